/// Names one shadow: a thing's classic shadow (`shadowName == nil`) or one of its named shadows.
public struct ShadowID: Hashable, Sendable, CustomStringConvertible {
    public let thingName: String
    public let shadowName: String?

    /// A shadow id whose names follow AWS's rules and the given limits; throws a 400 otherwise.
    public init(thingName: String, shadowName: String? = nil, limits: ShadowLimits = .aws) throws(ShadowError) {
        try ShadowNameRules.validateThingName(thingName, limits: limits)
        if let shadowName { try ShadowNameRules.validateShadowName(shadowName, limits: limits) }
        self.thingName = thingName
        self.shadowName = shadowName
    }

    /// A shadow id from names already known to be valid (read back from the store).
    public init(unchecked thingName: String, shadowName: String?) {
        self.thingName = thingName
        self.shadowName = shadowName
    }

    /// The name AWS puts in its "No shadow exists" message: `thing` or `thing~shadow`.
    public var qualifiedName: String {
        guard let shadowName else { return thingName }
        return "\(thingName)~\(shadowName)"
    }

    /// `$aws/things/T/shadow` or `$aws/things/T/shadow/name/S`.
    public var topicPrefix: String { Self.topicPrefix(thing: thingName, shadow: shadowName) }

    /// The one spelling of a shadow's topic prefix, for names valid or not (a rejection of an
    /// invalid name is answered under the prefix it was asked on).
    public static func topicPrefix(thing: String, shadow: String?) -> String {
        guard let shadow else { return "$aws/things/\(thing)/shadow" }
        return "$aws/things/\(thing)/shadow/name/\(shadow)"
    }

    public var description: String { qualifiedName }
}

/// AWS's naming rules: thing names `[a-zA-Z0-9:_-]{1,128}`, shadow names `[$a-zA-Z0-9:_-]{1,64}`.
public enum ShadowNameRules {
    public static func validateThingName(_ name: String, limits: ShadowLimits = .aws) throws(ShadowError) {
        guard !name.isEmpty, name.utf8.count <= limits.maxThingNameLength,
            name.utf8.allSatisfy({ isNameByte($0) })
        else {
            throw ShadowError.invalidName(
                "thing name '\(name)' must be 1 to \(limits.maxThingNameLength) characters of a-z, A-Z, 0-9, ':', '_' or '-'"
            )
        }
    }

    public static func validateShadowName(_ name: String, limits: ShadowLimits = .aws) throws(ShadowError) {
        guard !name.isEmpty, name.utf8.count <= limits.maxShadowNameLength,
            name.utf8.allSatisfy({ isNameByte($0) || $0 == UInt8(ascii: "$") })
        else {
            throw ShadowError.invalidName(
                "shadow name '\(name)' must be 1 to \(limits.maxShadowNameLength) characters of a-z, A-Z, 0-9, '$', ':', '_' or '-'"
            )
        }
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: ":"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

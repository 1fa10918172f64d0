/// One attribute of a device type's shadow, HomeKit-style: its type and the rules a desired
/// value must keep.
public struct AttributeSchema: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case number, integer, boolean, string, `enum`
    }

    public var kind: Kind
    public var minimum: Double?
    public var maximum: Double?
    public var step: Double?
    public var unit: String?
    public var values: [String]
    public var writable: Bool
    public var description: String?

    public init(
        kind: Kind, minimum: Double? = nil, maximum: Double? = nil, step: Double? = nil, unit: String? = nil,
        values: [String] = [], writable: Bool = true, description: String? = nil
    ) {
        self.kind = kind
        self.minimum = minimum
        self.maximum = maximum
        self.step = step
        self.unit = unit
        self.values = values
        self.writable = writable
        self.description = description
    }

    /// Why `value` breaks the schema, as the end of a sentence ("must be between 5 and 30"),
    /// or nil when it is fine.
    public func violation(of value: JSONValue) -> String? {
        switch kind {
        case .boolean:
            return value.boolValue == nil ? "must be true or false" : nil
        case .string:
            return value.stringValue == nil ? "must be a string" : nil
        case .enum:
            guard let string = value.stringValue, values.contains(string) else {
                return "must be one of \(values.map { "'\($0)'" }.joined(separator: ", "))"
            }
            return nil
        case .number, .integer:
            guard let number = value.numberValue else { return "must be a number" }
            let double = number.doubleValue
            if kind == .integer && number.exactInteger == nil { return "must be a whole number" }
            if let minimum, let maximum, !(minimum...maximum).contains(double) {
                return "must be between \(Self.format(minimum)) and \(Self.format(maximum))"
            }
            if let minimum, double < minimum { return "must be at least \(Self.format(minimum))" }
            if let maximum, double > maximum { return "must be at most \(Self.format(maximum))" }
            if let step, step > 0 {
                let base = minimum ?? 0
                let steps = (double - base) / step
                if abs(steps - steps.rounded()) > 1e-9 {
                    return "must be in steps of \(Self.format(step))\(minimum.map { " from \(Self.format($0))" } ?? "")"
                }
            }
            return nil
        }
    }

    static func format(_ value: Double) -> String {
        if let integer = Int64(exactly: value) { return String(integer) }
        return "\(value)"
    }
}

/// A command a device type accepts (unlock, move, boost).
public struct CommandSchema: Sendable, Equatable {
    public var parameters: [String: AttributeSchema]
    /// Longest the command may take, from start to result.
    public var timeoutSeconds: Double
    /// How often the device reports RUNNING while it works.
    public var heartbeatSeconds: Double
    /// Safe to repeat: the hub may retry it automatically.
    public var idempotent: Bool
    /// Needs the sensitive permission (e.g. unlock).
    public var sensitive: Bool
    public var description: String?
    /// Reported values of the primary shadow that must hold once the device says it succeeded
    /// (a lock's `lockState` after unlock): success means the device's state shows it.
    public var verify: JSONObject

    public init(
        parameters: [String: AttributeSchema] = [:], timeoutSeconds: Double = 30, heartbeatSeconds: Double = 5,
        idempotent: Bool = false, sensitive: Bool = false, description: String? = nil, verify: JSONObject = .empty
    ) {
        self.verify = verify
        self.parameters = parameters
        self.timeoutSeconds = timeoutSeconds
        self.heartbeatSeconds = heartbeatSeconds
        self.idempotent = idempotent
        self.sensitive = sensitive
        self.description = description
    }
}

/// A device type: its named shadows with their attributes, and its commands.
public struct DeviceType: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// Shadow name → attribute name → schema. The first shadow is the type's primary one.
    public var shadows: [(name: String, attributes: [String: AttributeSchema])]
    public var commands: [String: CommandSchema]
    /// Shadows whose desired state only an identity with the sensitive role may change, by
    /// whatever path (the door lock's `lock`).
    public var sensitiveShadows: Set<String>
    /// How the type appears in Home Assistant, when its manifest declares it.
    public var homeAssistant: HomeAssistantMapping?

    public init(
        name: String, description: String? = nil, shadows: [(name: String, attributes: [String: AttributeSchema])],
        commands: [String: CommandSchema] = [:], sensitiveShadows: Set<String> = [],
        homeAssistant: HomeAssistantMapping? = nil
    ) {
        self.name = name
        self.description = description
        self.shadows = shadows
        self.commands = commands
        self.sensitiveShadows = sensitiveShadows
        self.homeAssistant = homeAssistant
    }

    public static func == (lhs: DeviceType, rhs: DeviceType) -> Bool {
        lhs.name == rhs.name && lhs.description == rhs.description && lhs.commands == rhs.commands
            && lhs.sensitiveShadows == rhs.sensitiveShadows && lhs.homeAssistant == rhs.homeAssistant
            && lhs.shadows.map(\.name) == rhs.shadows.map(\.name)
            && zip(lhs.shadows, rhs.shadows).allSatisfy { $0.attributes == $1.attributes }
    }

    /// The shadow `hubctl set` changes.
    public var primaryShadow: String? { shadows.first?.name }

    public func attributes(of shadow: String) -> [String: AttributeSchema]? {
        shadows.first { $0.name == shadow }?.attributes
    }

    /// Checks a desired section against the type. Only the type's declared shadows are checked;
    /// `null` (withdrawing a desire) is always allowed. Throws a 400 that names the thing, the
    /// attribute, the rule and the value.
    public func validateDesired(_ desired: JSONObject, shadow: String?, thing: String) throws(ShadowError) {
        guard let shadow, let attributes = attributes(of: shadow) else { return }
        for (key, value) in desired where !value.isNull {
            guard let schema = attributes[key] else {
                let known = attributes.keys.sorted().joined(separator: ", ")
                throw ShadowError(
                    code: 400,
                    message: "\(name) '\(thing)' has no attribute '\(key)' in shadow '\(shadow)' (attributes: \(known))"
                )
            }
            guard schema.writable else {
                throw ShadowError(
                    code: 400, message: "attribute '\(key)' of \(name) '\(thing)' is read-only (got \(value))")
            }
            if let violation = schema.violation(of: value) {
                throw ShadowError(
                    code: 400, message: "attribute '\(key)' of \(name) '\(thing)' \(violation) (got \(value))")
            }
        }
    }
}

/// A request topic of the shadow service, parsed:
/// `$aws/things/T/shadow/OP` or `$aws/things/T/shadow/name/S/OP`, OP one of get, update, delete.
public struct ShadowTopic: Sendable, Equatable {
    public enum Operation: String, Sendable {
        case get, update, delete
    }

    public var thingName: String
    public var shadowName: String?
    public var operation: Operation

    /// `nil` for topics that are not shadow requests (responses, other prefixes).
    public init?(_ topic: String) {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard levels.count == 5 || levels.count == 7, levels[0] == "$aws", levels[1] == "things", levels[3] == "shadow",
            let operation = Operation(rawValue: String(levels[levels.count - 1]))
        else { return nil }
        if levels.count == 7 {
            guard levels[4] == "name" else { return nil }
            shadowName = String(levels[5])
        } else {
            shadowName = nil
        }
        thingName = String(levels[2])
        self.operation = operation
    }

    /// The topic prefix of the addressed shadow, valid names or not.
    public var prefix: String { ShadowID.topicPrefix(thing: thingName, shadow: shadowName) }

    public var acceptedTopic: String { "\(prefix)/\(operation.rawValue)/accepted" }
    public var rejectedTopic: String { "\(prefix)/\(operation.rawValue)/rejected" }

    /// The shadow the topic names, or the 400 for names that break the rules.
    public func shadowID(limits: ShadowLimits) throws(ShadowError) -> ShadowID {
        try ShadowID(thingName: thingName, shadowName: shadowName, limits: limits)
    }

    /// The subscriptions that receive every request topic and none of the response topics.
    public static let requestFilters = ["$aws/things/+/shadow/+", "$aws/things/+/shadow/name/+/+"]
}

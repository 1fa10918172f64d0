/// A message received from the broker.
public struct MQTTMessage: Sendable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int
    public var retain: Bool
    /// MQTT 5 user properties, in the order sent (empty on an MQTT 3.1.1 connection).
    public var userProperties: [(String, String)] = []

    /// The last value of a user property: a broker plugin appends, so the last is the broker's.
    public func userProperty(_ name: String) -> String? { userProperties.last { $0.0 == name }?.1 }

    public init(topic: String, payload: [UInt8], qos: Int = 1, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

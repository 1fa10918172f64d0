/// The MQTT 5 properties of a publish, as AWS's Publish takes them (headers and query of
/// `POST /topics/{topic}`): applied where the broker connection speaks MQTT 5.
public struct PublishProperties: Sendable, Equatable {
    public var userProperties: [UserProperty] = []
    /// `UTF8_DATA` → true.
    public var payloadIsUTF8: Bool?
    public var contentType: String?
    public var responseTopic: String?
    public var correlationData: [UInt8]?
    public var messageExpirySeconds: UInt32?

    public struct UserProperty: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init() {}

    public var isEmpty: Bool { self == PublishProperties() }
}

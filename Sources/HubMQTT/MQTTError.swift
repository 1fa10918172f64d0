/// A failed MQTT operation: libmosquitto's result code (or a connection refusal) and what failed.
public struct MQTTError: Error, CustomStringConvertible, Sendable {
    /// A libmosquitto `MOSQ_ERR_*` value, or a CONNACK refusal code for `.refused`.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let noConnection = Code(rawValue: 4)
        public static let connectionLost = Code(rawValue: 7)
        public static let refused = Code(rawValue: 5)
        public static let timedOut = Code(rawValue: 1000)
        public static let closed = Code(rawValue: 1001)
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// How to reach the broker and who to be there.
public struct MQTTClientOptions: Sendable {
    /// Where the broker listens: TCP, or mosquitto's Unix-socket listener.
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        enum Kind: Sendable, Equatable {
            case tcp(host: String, port: Int)
            case unixSocket(path: String)
        }

        let kind: Kind

        public static func tcp(host: String, port: Int) -> Endpoint { Endpoint(kind: .tcp(host: host, port: port)) }
        public static func unixSocket(path: String) -> Endpoint { Endpoint(kind: .unixSocket(path: path)) }

        public var description: String {
            switch kind {
            case .tcp(let host, let port): return "\(host):\(port)"
            case .unixSocket(let path): return "unix:\(path)"
            }
        }
    }

    /// Client certificates for a TLS connection.
    public struct TLS: Sendable, Equatable {
        public var caFile: String
        public var certFile: String?
        public var keyFile: String?

        public init(caFile: String, certFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
        }
    }

    /// The last will: a message the broker publishes for us when we vanish without a DISCONNECT.
    public typealias Will = MQTTMessage

    public var endpoint: Endpoint
    public var clientID: String
    public var username: String?
    public var password: String?
    public var tls: TLS?
    public var will: Will?
    public var keepAliveSeconds: Int = 30
    /// The wait before the first reconnect attempt; it doubles up to `maxReconnectDelaySeconds`.
    public var reconnectDelaySeconds: Int = 1
    public var maxReconnectDelaySeconds: Int = 30
    public var cleanSession: Bool = true
    /// MQTT 5 instead of 3.1.1: received messages carry their user properties.
    public var protocolVersion5 = false
    /// Received messages that may wait for the consumer; beyond it, libmosquitto's thread waits.
    public var inboxCapacity: Int = 1024
    /// QoS 1 publishes that may wait for the broker's acknowledgement (see ``MQTTClient/publish``).
    public var maxUnacknowledged: Int = 1000

    public init(endpoint: Endpoint, clientID: String) {
        self.endpoint = endpoint
        self.clientID = clientID
    }
}

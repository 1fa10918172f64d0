public import HubCore

/// homehubd's configuration, read from TOML (see config/hub.toml for every key with comments).
public struct HubConfiguration: Sendable, Equatable {
    public struct Hub: Sendable, Equatable {
        /// Database and runtime files (the embedded broker's config and socket).
        public var dataDirectory = "/var/lib/homehub"
        /// The control API's Unix socket.
        public var socket = "/run/homehub/hubctl.sock"
        /// The group the socket is given to; when it does not exist the process's own is kept.
        public var socketGroup = "homehub"
        /// The socket file's mode. Who may do what is the policy's to decide (SO_PEERCRED);
        /// the mode decides who reaches it at all.
        public var socketMode: UInt32 = 0o660
        public var logLevel = "info"
        /// The IANA zone of schedules that name none; nil follows the system's (and its changes).
        public var timeZone: String?
    }

    public struct MQTT: Sendable, Equatable {
        public enum Mode: String, Sendable { case embedded, external }
        public var mode = Mode.embedded
        /// External: the broker's host. Embedded: the address the device listener binds.
        public var host = "127.0.0.1"
        /// External: the broker's port. Embedded: the device listener's port (not 1883, which
        /// Debian's own mosquitto takes).
        public var port = 1884
        /// External: connect over this Unix socket instead of TCP.
        public var socket: String?
        /// Embedded: a TLS listener on this port requiring client certificates (0: none).
        public var tlsPort = 0
        /// Embedded: a mosquitto password file whose users become applications with role
        /// `write` at start (kept if they exist). The Debian package generated one before
        /// applications existed; `hubctl apps` replaces it.
        public var devicePasswordFile: String?
        /// Embedded: the role of clients that do not log in; nil (`none`) refuses them. Never
        /// `sensitive`. `make run`'s demo sets `write`.
        public var anonymousRole: Permission?
        /// Embedded: homehub's mosquitto plugin; nil looks beside homehubd, then in /usr/lib/homehub.
        public var brokerPlugin: String?
        /// External: the hub's client TLS files. Embedded: the TLS listener's files.
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        public var username: String?
        public var password: String?
        public var clientID = "homehubd"
        /// Embedded: the mosquitto executable.
        public var mosquitto = "/usr/sbin/mosquitto"
    }

    /// The HTTPS listener: AWS IoT's data-plane API signed with SigV4 (docs/applications.md).
    public struct HTTP: Sendable, Equatable {
        /// `host:port` addresses (`[::1]:8443` for IPv6); empty: no HTTPS listener.
        public var listen: [String] = []
        /// PEM files; unset: a certificate from the hub's CA (data_dir/ca/https.crt), renewed by itself.
        public var tlsCertFile: String?
        public var tlsKeyFile: String?
        /// The dashboard's files (docs/dashboard.md).
        public var uiDirectory = "/usr/share/homehub/ui"
    }

    /// Home Assistant's MQTT discovery (docs/home-assistant.md).
    public struct HomeAssistant: Sendable, Equatable {
        public var enabled = false
        /// Where Home Assistant looks for discovery configs (its MQTT integration's setting).
        public var discoveryPrefix = "homeassistant"
        /// The first level of the hub's own state and command topics.
        public var topicPrefix = "homehub"
        /// The application Home Assistant logs in as (`hubctl apps add homeassistant --role write`).
        public var application = "homeassistant"
    }

    /// Sync with AWS IoT Core (docs/cloud.md): chosen shadows kept equal in the cloud over one
    /// outbound mTLS connection. Off while `endpoint` is empty.
    public struct Cloud: Sendable, Equatable {
        public struct Sync: Sendable, Equatable {
            public var thing: String
            /// The thing's name in AWS IoT Core.
            public var cloudThing: String
            /// Named shadows ("" is the classic one); nil: all of the thing's.
            public var shadows: [String]?
            public var direction: ShadowSync.Direction
        }

        public var endpoint = ""
        public var port = 8883
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        public var clientID = "homehub"
        /// Whether cloud changes may reach sensitive shadows and commands (the front door).
        public var allowSensitive = false
        /// Updates sent to the cloud per second, at most (AWS IoT Core takes 100 publishes a
        /// second per connection).
        public var maxUpdatesPerSecond = 100.0
        /// Who wins a leaf changed on both sides.
        public var prefer = ShadowSync.Preference()
        public var sync: [Sync] = []

        public var enabled: Bool { !endpoint.isEmpty }
        /// AWS IoT Core's subscriptions per connection (one per cloud thing here).
        public static let maxCloudThings = 50
    }

    /// The history of reported numbers the dashboard draws (docs/dashboard.md).
    public struct History: Sendable, Equatable {
        /// Samples older than this are dropped; 0 keeps no history.
        public var retentionDays = 7
        /// At most one sample per attribute this often.
        public var sampleSeconds = 60
    }

    public struct Plugins: Sendable, Equatable {
        public var directories = ["/usr/lib/homehub/plugins", "/etc/homehub/plugins.d"]
        public var pingSeconds = 10.0
        public var replyTimeoutSeconds = 5.0
        public var restartBackoffSeconds = 0.5
        public var maxMessagesPerSecond = 500.0
        public var maxLineBytes = 1 << 20
        public var crashesBeforeQuarantine = 5
        /// `[plugins.NAME]` tables: settings handed to the plugin whose id is NAME or ends in
        /// `.NAME` (`[plugins.zigbee2mqtt]` → homehub.zigbee2mqtt), in `initialize`.
        public var settings: [String: JSONObject] = [:]
    }

    public struct Shadows: Sendable, Equatable {
        public var limits = ShadowLimits.aws
        public var requestsPerSecondPerThing = 20.0
        public var requireRegisteredThings = false
    }

    /// A thing declared in the file, registered at every start.
    public struct Thing: Sendable, Equatable {
        public var name: String
        public var type: String?
        public var config: JSONObject

        public init(name: String, type: String? = nil, config: JSONObject? = nil) {
            self.name = name
            self.type = type
            self.config = config ?? JSONObject()
        }
    }

    public var hub = Hub()
    public var policy = AccessPolicy()
    public var things: [Thing] = []
    public var mqtt = MQTT()
    public var http = HTTP()
    public var homeAssistant = HomeAssistant()
    public var cloud = Cloud()
    public var history = History()
    public var plugins = Plugins()
    public var shadows = Shadows()

    public init() {}

    public var databasePath: String { hub.dataDirectory + "/hub.db" }
    /// The embedded broker's Unix-socket listener, which homehubd connects to.
    public var brokerSocketPath: String { hub.dataDirectory + "/mqtt.sock" }
}

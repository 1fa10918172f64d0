import HubCore

/// A configuration error that names the key, the rule and what was found.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

extension HubConfiguration {
    /// Parses TOML text. Unknown sections and keys, and values of the wrong type, are errors
    /// that name the key and what it expects; a missing key keeps its default.
    public init(toml text: String, source: String = "configuration") throws(ConfigurationError) {
        self.init()
        let root: TOML.Table
        do throws(TOML.Failure) {
            root = try TOML.parse(text)
        } catch {
            throw ConfigurationError(message: "\(source): \(error.description)")
        }
        let reader = DocumentReader<ConfigurationError>(
            TOMLValue.table(root).json, objectName: "table",
            failure: { path, rule in ConfigurationError(message: "\(source): '\(path)' \(rule)") })
        try reader.onlyKeys([
            "hub", "mqtt", "http", "homeassistant", "cloud", "history", "plugins", "shadows", "policy", "things",
        ])
        if let section = try reader.object("history") {
            try section.onlyKeys(["retention_days", "sample_seconds"])
            history.retentionDays = try section.integer("retention_days", in: 0...3650) ?? history.retentionDays
            history.sampleSeconds = try section.integer("sample_seconds", in: 0...86400) ?? history.sampleSeconds
        }
        if let section = try reader.object("cloud") {
            try readCloud(section)
        }
        if let section = try reader.object("homeassistant") {
            try section.onlyKeys(["enabled", "discovery_prefix", "topic_prefix", "application"])
            homeAssistant.enabled = try section.bool("enabled") ?? false
            let topicRule = "1–64 characters, no '+', '#', or leading or trailing '/'"
            func prefix(_ key: String, _ fallback: String) throws(ConfigurationError) -> String {
                let value = try section.string(key) ?? fallback
                guard !value.isEmpty, value.count <= 64, !value.contains("+"), !value.contains("#"),
                    !value.hasPrefix("/"), !value.hasSuffix("/"), !value.hasPrefix("$")
                else {
                    throw section.fail(
                        key, "must be a topic prefix: \(topicRule), not starting with '$' (got '\(value)')")
                }
                return value
            }
            homeAssistant.discoveryPrefix = try prefix("discovery_prefix", homeAssistant.discoveryPrefix)
            homeAssistant.topicPrefix = try prefix("topic_prefix", homeAssistant.topicPrefix)
            if homeAssistant.topicPrefix == homeAssistant.discoveryPrefix
                || homeAssistant.topicPrefix.hasPrefix("$aws") || homeAssistant.topicPrefix == "cmd"
            {
                throw section.fail(
                    "topic_prefix",
                    "must differ from discovery_prefix and from the shadow and command topics ('$aws', 'cmd') (got '\(homeAssistant.topicPrefix)')"
                )
            }
            homeAssistant.application = try section.string("application") ?? homeAssistant.application
        }
        if let http = try reader.object("http") {
            try http.onlyKeys(["listen", "tls_cert_file", "tls_key_file", "ui_dir"])
            self.http.uiDirectory = try http.string("ui_dir") ?? self.http.uiDirectory
            let listen = try http.strings("listen") ?? []
            for address in listen where Self.splitAddress(address) == nil {
                throw http.fail(
                    "listen", "must be a list of \"host:port\" (\"[::1]:8443\" for IPv6), got \"\(address)\"")
            }
            self.http.listen = listen
            self.http.tlsCertFile = try http.string("tls_cert_file")
            self.http.tlsKeyFile = try http.string("tls_key_file")
            if (self.http.tlsCertFile == nil) != (self.http.tlsKeyFile == nil) {
                throw http.fail("tls_cert_file", "needs tls_key_file too (both, or neither for the hub's own CA)")
            }
        }
        if let hub = try reader.object("hub") {
            try hub.onlyKeys(["data_dir", "socket", "socket_group", "socket_mode", "log_level", "time_zone"])
            if let text = try hub.string("socket_mode") {
                guard let mode = UInt32(text, radix: 8), mode <= 0o777 else {
                    throw hub.fail("socket_mode", "must be an octal file mode such as \"0660\" (got \"\(text)\")")
                }
                self.hub.socketMode = mode
            }
            self.hub.timeZone = try hub.string("time_zone")
            self.hub.dataDirectory = try hub.string("data_dir") ?? self.hub.dataDirectory
            self.hub.socket = try hub.string("socket") ?? self.hub.socket
            self.hub.socketGroup = try hub.string("socket_group") ?? self.hub.socketGroup
            if let level = try hub.string("log_level") {
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                guard levels.contains(level) else {
                    throw hub.fail("log_level", "must be one of \(levels.joined(separator: ", ")) (got \"\(level)\")")
                }
                self.hub.logLevel = level
            }
        }
        if let mqtt = try reader.object("mqtt") {
            try mqtt.onlyKeys([
                "mode", "host", "port", "socket", "tls_port", "ca_file", "cert_file", "key_file", "username",
                "password", "device_password_file", "client_id", "mosquitto", "anonymous_role", "broker_plugin",
            ])
            if let mode = try mqtt.string("mode") {
                guard let parsed = MQTT.Mode(rawValue: mode) else {
                    throw mqtt.fail("mode", "must be \"embedded\" or \"external\" (got \"\(mode)\")")
                }
                self.mqtt.mode = parsed
            }
            self.mqtt.host = try mqtt.string("host") ?? self.mqtt.host
            self.mqtt.port = try mqtt.integer("port", in: 1...65535) ?? self.mqtt.port
            self.mqtt.socket = try mqtt.string("socket") ?? self.mqtt.socket
            self.mqtt.tlsPort = try mqtt.integer("tls_port", in: 0...65535) ?? self.mqtt.tlsPort
            self.mqtt.devicePasswordFile = try mqtt.string("device_password_file") ?? self.mqtt.devicePasswordFile
            self.mqtt.caFile = try mqtt.string("ca_file") ?? self.mqtt.caFile
            self.mqtt.certFile = try mqtt.string("cert_file") ?? self.mqtt.certFile
            self.mqtt.keyFile = try mqtt.string("key_file") ?? self.mqtt.keyFile
            self.mqtt.username = try mqtt.string("username") ?? self.mqtt.username
            self.mqtt.password = try mqtt.string("password") ?? self.mqtt.password
            self.mqtt.clientID = try mqtt.string("client_id") ?? self.mqtt.clientID
            self.mqtt.mosquitto = try mqtt.string("mosquitto") ?? self.mqtt.mosquitto
            self.mqtt.brokerPlugin = try mqtt.string("broker_plugin") ?? self.mqtt.brokerPlugin
            if let role = try mqtt.string("anonymous_role") {
                switch role {
                case "none": self.mqtt.anonymousRole = nil
                case "read": self.mqtt.anonymousRole = .read
                case "write": self.mqtt.anonymousRole = .write
                default:
                    throw mqtt.fail(
                        "anonymous_role",
                        "must be none, read or write (got \"\(role)\"); anonymous clients never get the sensitive role")
                }
            }
            let files = [self.mqtt.caFile, self.mqtt.certFile, self.mqtt.keyFile].compactMap { $0 }.count
            if self.mqtt.mode == .embedded, self.mqtt.tlsPort != 0, files != 0, files != 3 {
                // None: the hub's own CA (data_dir/ca) signs the listener's and the devices' certificates.
                throw mqtt.fail(
                    "tls_port", "needs all of ca_file, cert_file and key_file, or none of them (the hub's own CA)")
            }
        }
        if let plugins = try reader.object("plugins") {
            let known = [
                "dirs", "ping_seconds", "reply_timeout_seconds", "restart_backoff_seconds", "max_messages_per_second",
                "max_line_bytes", "crashes_before_quarantine",
            ]
            // [plugins.NAME]: settings for the plugin whose id is NAME or ends in `.NAME`.
            for (key, value) in plugins.value.objectValue ?? [:] where !known.contains(key) {
                guard case .object(let settings) = value else {
                    throw plugins.fail(
                        key,
                        "is not a known key (known: \(known.joined(separator: ", ")); a table [plugins.NAME] holds a plugin's settings)"
                    )
                }
                self.plugins.settings[key] = settings
            }
            self.plugins.directories = try plugins.strings("dirs") ?? self.plugins.directories
            for (key, path) in [
                ("ping_seconds", \Plugins.pingSeconds), ("reply_timeout_seconds", \Plugins.replyTimeoutSeconds),
                ("restart_backoff_seconds", \Plugins.restartBackoffSeconds),
                ("max_messages_per_second", \Plugins.maxMessagesPerSecond),
            ] as [(String, WritableKeyPath<Plugins, Double>)] {
                if let value = try plugins.number(key) {
                    guard value > 0 else { throw plugins.fail(key, "must be above 0 (got \(value))") }
                    self.plugins[keyPath: path] = value
                }
            }
            self.plugins.maxLineBytes =
                try plugins.integer("max_line_bytes", in: 1024...(64 << 20)) ?? self.plugins.maxLineBytes
            self.plugins.crashesBeforeQuarantine =
                try plugins.integer("crashes_before_quarantine", in: 1...1000) ?? self.plugins.crashesBeforeQuarantine
        }
        if let policy = try reader.object("policy") {
            try policy.onlyKeys(["read_groups", "write_groups", "sensitive_groups"])
            self.policy.readGroups = try policy.strings("read_groups") ?? self.policy.readGroups
            self.policy.writeGroups = try policy.strings("write_groups") ?? self.policy.writeGroups
            self.policy.sensitiveGroups = try policy.strings("sensitive_groups") ?? self.policy.sensitiveGroups
        }
        for (index, thing) in try (reader.objects("things") ?? []).enumerated() {
            try thing.onlyKeys(["name", "type", "config"])
            let name = try thing.requiredString("name")
            do {
                try ShadowNameRules.validateThingName(name)
            } catch {
                throw thing.fail("name", "is not a valid thing name: \(error.message)")
            }
            if things.contains(where: { $0.name == name }) {
                throw reader.fail("things", "declares '\(name)' twice (entry \(index + 1))")
            }
            things.append(
                Thing(
                    name: name, type: try thing.string("type"),
                    config: try thing.object("config")?.value.objectValue ?? [:]))
        }
        if let shadows = try reader.object("shadows") {
            try shadows.onlyKeys([
                "max_document_bytes", "max_depth", "max_client_token_bytes", "requests_per_second_per_thing",
                "require_registered_things",
            ])
            self.shadows.limits.maxDocumentBytes =
                try shadows.integer("max_document_bytes", in: 1...(1 << 20)) ?? self.shadows.limits.maxDocumentBytes
            self.shadows.limits.maxDepth = try shadows.integer("max_depth", in: 1...64) ?? self.shadows.limits.maxDepth
            self.shadows.limits.maxClientTokenBytes =
                try shadows.integer("max_client_token_bytes", in: 1...4096) ?? self.shadows.limits.maxClientTokenBytes
            if let rate = try shadows.number("requests_per_second_per_thing") {
                guard rate >= 0 else {
                    throw shadows.fail("requests_per_second_per_thing", "must be 0 (no limit) or more")
                }
                self.shadows.requestsPerSecondPerThing = rate
            }
            self.shadows.requireRegisteredThings =
                try shadows.bool("require_registered_things") ?? self.shadows.requireRegisteredThings
        }
    }

    /// `host:port` or `[v6]:port` → its parts; nil when it is neither.
    public static func splitAddress(_ address: String) -> (host: String, port: Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }
}

extension HubConfiguration {
    mutating func readCloud(_ section: DocumentReader<ConfigurationError>) throws(ConfigurationError) {
        try section.onlyKeys([
            "endpoint", "port", "ca_file", "cert_file", "key_file", "client_id", "allow_sensitive",
            "max_updates_per_second", "prefer_desired", "prefer_reported", "sync",
        ])
        cloud.endpoint = try section.string("endpoint") ?? ""
        cloud.port = try section.integer("port", in: 1...65535) ?? cloud.port
        cloud.caFile = try section.string("ca_file")
        cloud.certFile = try section.string("cert_file")
        cloud.keyFile = try section.string("key_file")
        cloud.clientID = try section.string("client_id") ?? cloud.clientID
        cloud.allowSensitive = try section.bool("allow_sensitive") ?? false
        if let rate = try section.number("max_updates_per_second") {
            guard rate > 0, rate <= 100 else {
                throw section.fail(
                    "max_updates_per_second",
                    "must be above 0 and at most 100 (AWS IoT Core's publishes per second per connection) (got \(rate))"
                )
            }
            cloud.maxUpdatesPerSecond = rate
        }
        for (key, path) in [("prefer_desired", \ShadowSync.Preference.desired), ("prefer_reported", \.reported)]
            as [(String, WritableKeyPath<ShadowSync.Preference, ShadowSync.Side>)]
        {
            guard let text = try section.string(key) else { continue }
            guard let side = ShadowSync.Side(rawValue: text) else {
                throw section.fail(key, "must be 'hub' or 'cloud' (got '\(text)')")
            }
            cloud.prefer[keyPath: path] = side
        }
        guard cloud.enabled else { return }
        if cloud.clientID.isEmpty || cloud.clientID.utf8.count > 128 {
            throw section.fail("client_id", "must be 1–128 bytes (AWS IoT Core's limit)")
        }
        for key in ["ca_file", "cert_file", "key_file"] where try section.string(key) == nil {
            throw section.fail(
                key,
                "is required with an endpoint: AWS IoT Core takes mutual TLS (the Amazon root CA, the hub's certificate and key)"
            )
        }
        for (index, entry) in try (section.objects("sync") ?? []).enumerated() {
            try entry.onlyKeys(["thing", "cloud_thing", "shadows", "direction"])
            let thing = try entry.requiredString("thing")
            let cloudThing = try entry.string("cloud_thing") ?? thing
            for (key, name) in [("thing", thing), ("cloud_thing", cloudThing)] {
                do {
                    try ShadowNameRules.validateThingName(name)
                } catch {
                    throw entry.fail(key, "is not a valid thing name: \(error.message)")
                }
            }
            let shadows = try entry.strings("shadows")
            for shadow in shadows ?? [] where !shadow.isEmpty {
                do {
                    try ShadowNameRules.validateShadowName(shadow)
                } catch {
                    throw entry.fail("shadows", "names an invalid shadow '\(shadow)': \(error.message)")
                }
            }
            let directionText = try entry.string("direction") ?? "both"
            guard let direction = ShadowSync.Direction(rawValue: directionText) else {
                throw entry.fail(
                    "direction",
                    "must be \(ShadowSync.Direction.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(directionText)')"
                )
            }
            if cloud.sync.contains(where: { $0.thing == thing }) {
                throw entry.fail("thing", "'\(thing)' is synced twice (cloud.sync[\(index)]); one entry per thing")
            }
            if cloud.sync.contains(where: { $0.cloudThing == cloudThing }) {
                throw entry.fail("cloud_thing", "'\(cloudThing)' is the cloud thing of two entries")
            }
            cloud.sync.append(.init(thing: thing, cloudThing: cloudThing, shadows: shadows, direction: direction))
        }
        if cloud.sync.count > Cloud.maxCloudThings {
            throw section.fail(
                "sync",
                "syncs \(cloud.sync.count) things; AWS IoT Core allows \(Cloud.maxCloudThings) subscriptions per connection and the hub uses one per cloud thing"
            )
        }
    }
}

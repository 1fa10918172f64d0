import HubCore
import HubCrypto
import HubProcess
import HubStore
import Logging

#if canImport(Glibc)
    import Glibc
#endif

extension HubDaemon {
    /// The stored applications, after importing `mqtt.device_password_file`: each of its users
    /// becomes an application with role `write` and the same password hash, unless one of that
    /// name exists (the Debian package's shared "devices" login, from before applications).
    static func applications(_ configuration: HubConfiguration, store: HubStore, clock: any HubClock, logger: Logger)
        async throws -> [ApplicationRecord]
    {
        var known = try await store.applications()
        guard configuration.mqtt.mode == .embedded, let file = configuration.mqtt.devicePasswordFile else {
            return known
        }
        guard let text = FileContents.text(file) else {
            throw ConfigurationError(
                message:
                    "mqtt.device_password_file: cannot read \(file) (\(String(cString: strerror(errno)))); remove the key, or make applications with hubctl apps add NAME --role write"
            )
        }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, BrokerPassword.isHash(parts[1]), ApplicationNames.problem(parts[0]) == nil,
                !known.contains(where: { $0.name == parts[0] })
            else { continue }
            let now = clock.epochSeconds()
            let application = ApplicationRecord(
                name: parts[0], role: .write, passwordHash: parts[1], createdAt: now, rotatedAt: now)
            if try await store.saveApplication(application, replacing: false) {
                logger.notice(
                    "imported an MQTT login from mqtt.device_password_file as an application with role write",
                    metadata: ["application": "\(parts[0])", "file": "\(file)"])
                known.append(application)
            }
        }
        return known
    }

    /// Where homehub's mosquitto plugin is: `mqtt.broker_plugin`, else beside homehubd, else
    /// where the package installs it.
    static func brokerPlugin(_ configuration: HubConfiguration) throws -> String {
        let name = "libhomehub-broker-plugin.so"
        if let path = configuration.mqtt.brokerPlugin {
            guard access(path, R_OK) == 0 else {
                throw ConfigurationError(message: "mqtt.broker_plugin: cannot read \(path)")
            }
            return path
        }
        var candidates: [String] = []
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            let executable = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let slash = executable.lastIndex(of: "/") { candidates.append(executable[..<slash] + "/" + name) }
        }
        candidates.append("/usr/lib/homehub/" + name)
        for candidate in candidates where access(candidate, R_OK) == 0 { return candidate }
        throw ConfigurationError(
            message:
                "the embedded broker needs homehub's mosquitto plugin (\(name)) and it is not in \(candidates.joined(separator: " or ")); build it with swift build, or set mqtt.broker_plugin"
        )
    }
}

/// What an application may be called: it is its MQTT user name and goes into the broker's files.
public enum ApplicationNames {
    public static func problem(_ name: String) -> String? {
        let allowed = name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D
                || $0 == 0x5F
        }
        if !(1...64).contains(name.utf8.count) || !allowed {
            return "application name '\(name)' must be 1–64 letters, digits, '-' or '_'"
        }
        if name == BrokerAccess.hubUser { return "application name '\(name)' is the hub's own MQTT login" }
        return nil
    }
}

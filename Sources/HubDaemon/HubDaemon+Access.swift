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

extension HubDaemon {
    /// The HTTPS listener's certificate and key: `[http] tls_cert_file`/`tls_key_file`, or one from
    /// the hub's CA naming this machine (host name, HOST.local, localhost, its addresses).
    static func httpsCertificate(_ configuration: HubConfiguration, authority: DeviceCA?) throws -> (
        certificate: String, key: String
    ) {
        if let certificate = configuration.http.tlsCertFile, let key = configuration.http.tlsKeyFile {
            for file in [certificate, key] where access(file, R_OK) != 0 {
                throw ConfigurationError(message: "http: cannot read \(file) (\(String(cString: strerror(errno))))")
            }
            return (certificate, key)
        }
        guard let authority else { throw ConfigurationError(message: "http: no certificate and no hub CA") }
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var names = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
        if !host.isEmpty, host != "localhost" { names = ["DNS:\(host)", "DNS:\(host).local"] + names }
        for address in configuration.http.listen {
            guard let (listenHost, _) = HubConfiguration.splitAddress(address),
                !["0.0.0.0", "::", "localhost", "127.0.0.1", "::1"].contains(listenHost)
            else { continue }
            names.append(
                listenHost.allSatisfy({ $0.isNumber || $0 == "." || $0 == ":" })
                    ? "IP:\(listenHost)" : "DNS:\(listenHost)")
        }
        names += interfaceAddresses().map { "IP:\($0)" }
        var unique: [String] = []
        for name in names where !unique.contains(name) { unique.append(name) }
        do {
            return try authority.serverCertificate(altNames: unique.joined(separator: ","), commonName: host)
        } catch {
            throw ConfigurationError(message: "http: cannot make the HTTPS certificate: \(error.description)")
        }
    }

    /// The machine's IPv4 addresses but loopback (for the certificate's names).
    static func interfaceAddresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else {
                continue
            }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ipv4 in
                var raw = ipv4.pointee.sin_addr
                _ = inet_ntop(AF_INET, &raw, &text, socklen_t(INET_ADDRSTRLEN))
            }
            let value = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !value.hasPrefix("127."), !addresses.contains(value) { addresses.append(value) }
        }
        return addresses
    }
}

import COpenSSL
import HubProcess
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The hub's own certificate authority (libcrypto through the COpenSSL shim): a P-256 CA kept in
/// `directory` (`ca.key` 0600, `ca.crt`), a server certificate for the broker's TLS listener,
/// and a client certificate per device whose common name is the thing's name — the identity the
/// broker's ACL confines to that thing's topics (docs/security.md).
public final class DeviceCA: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// A key and its certificate, as PEM.
    public struct Identity: Sendable {
        public var key: String
        public var certificate: String
    }

    public let directory: String
    public let certificatePEM: String
    // Set once in init; libcrypto's objects are used for signing only, under `lock`.
    private let key: OpaquePointer
    private let certificate: OpaquePointer
    private let lock = Mutex(())

    public var caFile: String { directory + "/ca.crt" }
    public var brokerCertFile: String { directory + "/broker.crt" }
    public var brokerKeyFile: String { directory + "/broker.key" }

    /// Loads the CA from `directory`, or creates it (and the broker's certificate) there.
    public init(directory: String) throws(Failure) {
        self.directory = directory
        mkdir(directory, 0o700)
        if let keyText = FileContents.text(directory + "/ca.key"),
            let certificateText = FileContents.text(directory + "/ca.crt")
        {
            guard let key = homehub_read_key(keyText), let certificate = homehub_read_certificate(certificateText)
            else {
                throw Failure(description: "\(directory)/ca.key or ca.crt cannot be read as PEM")
            }
            self.key = key
            self.certificate = certificate
            certificatePEM = certificateText
        } else {
            guard let key = homehub_generate_key(),
                let certificate = homehub_make_certificate(key, "homehub device CA", nil, nil, 1, 3650, nil),
                let keyText = Self.take(homehub_key_pem(key)),
                let certificateText = Self.take(homehub_certificate_pem(certificate))
            else { throw Failure(description: "cannot create the device CA: libcrypto failed") }
            try Self.write(keyText, to: directory + "/ca.key", mode: 0o600)
            try Self.write(certificateText, to: directory + "/ca.crt", mode: 0o644)
            self.key = key
            self.certificate = certificate
            certificatePEM = certificateText
        }
        if FileContents.read(brokerCertFile) == nil || FileContents.read(brokerKeyFile) == nil {
            let broker = try issue(commonName: "localhost", altNames: "DNS:localhost,IP:127.0.0.1,IP:::1")
            try Self.write(broker.key, to: brokerKeyFile, mode: 0o600)
            try Self.write(broker.certificate, to: brokerCertFile, mode: 0o644)
        }
    }

    deinit {
        EVP_PKEY_free(key)
        X509_free(certificate)
    }

    /// A new key and a certificate for a device named `commonName`, valid for `days`.
    public func issue(commonName: String, altNames: String? = nil, days: Int = 3650) throws(Failure) -> Identity {
        let identity = lock.withLock { _ -> Identity? in
            guard let deviceKey = homehub_generate_key() else { return nil }
            defer { EVP_PKEY_free(deviceKey) }
            guard
                let deviceCertificate = homehub_make_certificate(
                    deviceKey, commonName, certificate, key, 0, days, altNames)
            else { return nil }
            defer { X509_free(deviceCertificate) }
            guard let keyText = Self.take(homehub_key_pem(deviceKey)),
                let certificateText = Self.take(homehub_certificate_pem(deviceCertificate))
            else { return nil }
            return Identity(key: keyText, certificate: certificateText)
        }
        guard let identity else {
            throw Failure(description: "cannot issue a certificate for '\(commonName)': libcrypto failed")
        }
        return identity
    }

    /// The HTTPS listener's certificate from this CA, in `directory/https.crt` and `https.key`:
    /// made when missing, when its names changed (`altNames`, e.g. a new host name) or when it
    /// has less than 30 days left; valid 398 days. Returns the two paths.
    public func serverCertificate(altNames: String, commonName: String) throws(Failure) -> (
        certificate: String, key: String
    ) {
        let certificateFile = directory + "/https.crt"
        let keyFile = directory + "/https.key"
        let namesFile = directory + "/https.names"
        let current = FileContents.text(certificateFile)
        let secondsLeft = current.map { homehub_seconds_left($0) } ?? Int.min
        if current == nil || FileContents.read(keyFile) == nil || FileContents.text(namesFile) != altNames
            || secondsLeft < 30 * 86400
        {
            let issued = try issue(commonName: commonName, altNames: altNames, days: 398)
            try Self.write(issued.key, to: keyFile, mode: 0o600)
            try Self.write(issued.certificate, to: certificateFile, mode: 0o644)
            try Self.write(altNames, to: namesFile, mode: 0o644)
        }
        return (certificateFile, keyFile)
    }

    static func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    static func write(_ text: String, to path: String, mode: mode_t) throws(Failure) {
        guard FileContents.write(text, to: path, mode: UInt32(mode)) else {
            throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

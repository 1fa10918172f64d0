import COpenSSL

/// Household members' passwords (the dashboard's sign-in, docs/dashboard.md), kept as a
/// memory-hard hash: scrypt through libcrypto's `EVP_PBE_scrypt`, N = 2^15, r = 8, p = 1 (32 MiB
/// and about a tenth of a second per guess on a small machine), a 16-byte salt, 32 bytes out:
/// `$scrypt$ln=15,r=8,p=1$SALT$HASH` (base64). Nothing here is hand-rolled.
public enum MemberPassword {
    static let logN: UInt64 = 15
    static let r: UInt64 = 8
    static let p: UInt64 = 1

    /// The hash of `password` with a fresh salt.
    public static func hash(_ password: String) -> String {
        let salt = BrokerPassword.randomBytes(16)
        let derived = derive(password, salt: salt, logN: logN, r: r, p: p)
        return "$scrypt$ln=\(logN),r=\(r),p=\(p)$\(BrokerPassword.base64(salt))$\(BrokerPassword.base64(derived))"
    }

    /// Whether `password` matches; constant time in the hash's length.
    public static func verify(_ password: String, against hash: String) -> Bool {
        let parts = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "scrypt", let salt = BrokerPassword.decode(String(parts[3])),
            let expected = BrokerPassword.decode(String(parts[4])), !expected.isEmpty
        else { return false }
        var parameters: [String: UInt64] = [:]
        for field in parts[2].split(separator: ",") {
            let pair = field.split(separator: "=")
            if pair.count == 2, let value = UInt64(pair[1]) { parameters[String(pair[0])] = value }
        }
        guard let logN = parameters["ln"], (10...20).contains(logN), let r = parameters["r"], (1...32).contains(r),
            let p = parameters["p"], (1...4).contains(p)
        else { return false }
        let actual = derive(password, salt: salt, logN: logN, r: r, p: p, length: expected.count)
        guard actual.count == expected.count else { return false }
        return zip(actual, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Why a chosen password is not taken, or nil.
    public static func weakness(_ password: String) -> String? {
        if password.count < 10 { return "a password needs at least 10 characters (got \(password.count))" }
        if password.utf8.count > 1024 { return "a password is at most 1024 bytes" }
        return nil
    }

    static func derive(_ password: String, salt: [UInt8], logN: UInt64, r: UInt64, p: UInt64, length: Int = 32)
        -> [UInt8]
    {
        var out = [UInt8](repeating: 0, count: length)
        let bytes = Array(password.utf8)
        let n = UInt64(1) << logN
        // libcrypto refuses when the work needs more than maxmem: 128 * N * r bytes plus room.
        let maxMemory = 128 * n * r * (p + 1) + 1 << 20
        let ok = bytes.withUnsafeBufferPointer { passwordBuffer in
            passwordBuffer.withMemoryRebound(to: CChar.self) { passwordChars in
                EVP_PBE_scrypt(
                    passwordChars.baseAddress, bytes.count, salt, salt.count, n, r, p, maxMemory, &out, length)
            }
        }
        return ok == 1 ? out : []
    }
}

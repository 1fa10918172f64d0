import COpenSSL

/// Secrets the hub issues, and their salted hashes in the form mosquitto's `password_file`
/// reads (`$7$ROUNDS$SALT$HASH`: PBKDF2-HMAC-SHA512, base64), so the hub stores only the hash
/// and the broker checks a login itself. libcrypto does the work; nothing here is hand-rolled.
public enum BrokerPassword {
    /// mosquitto_passwd's defaults in 2.0.
    static let rounds: Int32 = 101
    static let saltBytes = 12

    /// A new random password: 24 bytes of libcrypto's generator, base64url without padding.
    public static func generate() -> String {
        let bytes = randomBytes(24)
        return String(
            base64(bytes).compactMap { character -> Character? in
                switch character {
                case "+": return "-"
                case "/": return "_"
                case "=": return nil
                default: return character
                }
            })
    }

    /// The `$7$…` hash of `password` with a fresh salt.
    public static func hash(_ password: String) -> String {
        let salt = randomBytes(saltBytes)
        return "$7$\(rounds)$\(base64(salt))$\(base64(derive(password, salt: salt, rounds: rounds)))"
    }

    /// Whether `password` matches a `$7$` hash.
    public static func verify(_ password: String, against hash: String) -> Bool {
        let parts = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "7", let rounds = Int32(parts[2]), rounds > 0,
            let salt = decode(String(parts[3])), let expected = decode(String(parts[4]))
        else { return false }
        let actual = derive(password, salt: salt, rounds: rounds)
        guard actual.count == expected.count else { return false }
        return zip(actual, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Whether a line of a password file holds a hash this hub understands (`$6$` or `$7$`).
    public static func isHash(_ text: String) -> Bool { text.hasPrefix("$7$") || text.hasPrefix("$6$") }

    static func derive(_ password: String, salt: [UInt8], rounds: Int32) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 64)
        let utf8 = Array(password.utf8)
        _ = utf8.withUnsafeBufferPointer { passwordBytes in
            passwordBytes.withMemoryRebound(to: CChar.self) { passwordChars in
                PKCS5_PBKDF2_HMAC(
                    passwordChars.baseAddress, Int32(utf8.count), salt, Int32(salt.count), rounds, EVP_sha512(),
                    Int32(output.count), &output)
            }
        }
        return output
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else {
            fatalError("libcrypto's random generator failed: the hub cannot make a secret")
        }
        return bytes
    }

    static func base64(_ bytes: [UInt8]) -> String {
        var output = [UInt8](repeating: 0, count: (bytes.count + 2) / 3 * 4 + 1)
        let length = EVP_EncodeBlock(&output, bytes, Int32(bytes.count))
        return String(decoding: output.prefix(Int(length)), as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard !input.isEmpty, input.count % 4 == 0 else { return nil }
        var output = [UInt8](repeating: 0, count: input.count / 4 * 3)
        let length = EVP_DecodeBlock(&output, input, Int32(input.count))
        guard length >= 0 else { return nil }
        let padding = input.reversed().prefix(while: { $0 == UInt8(ascii: "=") }).count
        return Array(output.prefix(Int(length) - padding))
    }
}

/// AWS-style keys for an application's HTTPS requests (SigV4): an access key id of 20 uppercase
/// letters and digits starting `HHAK` (AWS's start `AKIA`), and a 40-character secret.
public enum AccessKeys {
    public static func generate() -> (accessKeyID: String, secretAccessKey: String) {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let id = "HHAK" + String(BrokerPassword.randomBytes(16).map { alphabet[Int($0 & 31)] })
        let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let secret = String(BrokerPassword.randomBytes(40).map { secretAlphabet[Int($0 & 63)] })
        return (id, secret)
    }
}

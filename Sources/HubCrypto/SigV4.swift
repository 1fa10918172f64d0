import COpenSSL
import HubCore

/// AWS Signature Version 4, the server's half: recompute what the client signed and compare.
/// Written here because the hub verifies requests from AWS's own CLI and SDKs, and no package on
/// the mirror verifies (they only sign); libcrypto does the hashing. The canonical form follows
/// botocore's signer: the path as sent, percent-encoded once more; the query pairs as sent,
/// sorted; the signed headers trimmed; the payload's SHA-256 (or `UNSIGNED-PAYLOAD`).
public enum SigV4 {
    /// Why a request is not accepted, with AWS's own wording where it has one.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            case missing, malformed, unknownKey, expired, mismatch
        }
        public var kind: Kind
        public var message: String
        public var description: String { message }
    }

    /// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    public struct Authorization: Sendable, Equatable {
        public init(
            accessKeyID: String, date: String, region: String, service: String, signedHeaders: [String],
            signature: String
        ) {
            self.accessKeyID = accessKeyID
            self.date = date
            self.region = region
            self.service = service
            self.signedHeaders = signedHeaders
            self.signature = signature
        }

        public var accessKeyID: String
        public var date: String
        public var region: String
        public var service: String
        public var signedHeaders: [String]
        public var signature: String

        public var scope: String { "\(date)/\(region)/\(service)/aws4_request" }
    }

    /// The services a hub answers for: botocore signs iot-data as `iotdata`; older SDKs say
    /// `iotdevicegateway`.
    public static let services: Set<String> = ["iotdata", "iotdevicegateway"]
    /// How far the client's clock may be from the hub's (AWS allows 15 minutes).
    public static let maxSkewSeconds: Int64 = 15 * 60

    public static func parse(_ header: String?) throws(Failure) -> Authorization {
        guard let header, !header.isEmpty else {
            throw Failure(kind: .missing, message: "Missing Authentication Token")
        }
        guard header.hasPrefix("AWS4-HMAC-SHA256 ") else {
            throw Failure(
                kind: .malformed,
                message: "Authorization header requires the AWS4-HMAC-SHA256 algorithm (got '\(header.prefix(30))')")
        }
        var fields: [String: String] = [:]
        for part in header.dropFirst(17).split(separator: ",") {
            let pair = trimmed(part).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
        }
        guard let credential = fields["Credential"], let signed = fields["SignedHeaders"],
            let signature = fields["Signature"]
        else {
            throw Failure(
                kind: .malformed,
                message:
                    "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
        }
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scope.count == 5, scope[4] == "aws4_request", scope[1].count == 8 else {
            throw Failure(
                kind: .malformed,
                message:
                    "Credential should be scoped to a valid date, region and service: KEY/YYYYMMDD/REGION/SERVICE/aws4_request (got '\(credential)')"
            )
        }
        guard services.contains(scope[3]) else {
            throw Failure(
                kind: .malformed,
                message: "Credential should be scoped to service 'iotdata' (got '\(scope[3])')")
        }
        return Authorization(
            accessKeyID: scope[0], date: scope[1], region: scope[2], service: scope[3],
            signedHeaders: signed.split(separator: ";").map { $0.lowercased() }, signature: signature.lowercased())
    }

    /// A request as it arrived: the method, the target exactly as sent (path and query, still
    /// percent-encoded), the headers, the body.
    public struct Request: Sendable {
        public var method: String
        public var target: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(method: String, target: String, headers: [(name: String, value: String)], body: [UInt8]) {
            self.method = method
            self.target = target
            self.headers = headers
            self.body = body
        }

        func header(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name }.map(\.value)
        }
    }

    /// Checks a request's signature with the secret of its key (`secret` nil: no such key).
    /// `now` is the hub's clock in epoch seconds.
    public static func verify(_ request: Request, now: Int64, secret: (String) -> String?) throws(Failure)
        -> Authorization
    {
        let authorization = try parse(request.header("authorization").first)
        guard let amzDate = request.header("x-amz-date").first, let time = epochSeconds(amzDate) else {
            throw Failure(
                kind: .malformed, message: "Authorization requires an 'X-Amz-Date' header (YYYYMMDD'T'HHMMSS'Z')")
        }
        guard amzDate.hasPrefix(authorization.date) else {
            throw Failure(
                kind: .malformed,
                message:
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '\(authorization.date)' != '\(amzDate.prefix(8))'"
            )
        }
        guard abs(time - now) <= maxSkewSeconds else {
            throw Failure(
                kind: .expired,
                message:
                    "Signature expired: \(amzDate) is now earlier than \(iso(now - maxSkewSeconds)) (\(iso(now)) - 15 min.)"
                    .replacingIfLater(
                        time > now,
                        with:
                            "Signature not yet current: \(amzDate) is still later than \(iso(now + maxSkewSeconds)) (\(iso(now)) + 15 min.)"
                    ))
        }
        guard authorization.signedHeaders.contains("host") else {
            throw Failure(kind: .malformed, message: "'Host' must be a signed header")
        }
        guard let key = secret(authorization.accessKeyID) else {
            throw Failure(kind: .unknownKey, message: "The security token included in the request is invalid.")
        }
        let expected = signature(request, authorization, amzDate: amzDate, secret: key)
        guard constantTimeEqual(expected, authorization.signature) else {
            throw Failure(
                kind: .mismatch,
                message:
                    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
            )
        }
        return authorization
    }

    /// The signature a request must carry: HMAC-SHA256 of the string to sign with the key derived
    /// from the secret, the date, the region and the service.
    public static func signature(_ request: Request, _ authorization: Authorization, amzDate: String, secret: String)
        -> String
    {
        let canonical = canonicalRequest(request, signedHeaders: authorization.signedHeaders)
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(authorization.scope)\n\(hex(sha256(Array(canonical.utf8))))"
        var signingKey = hmac(Array("AWS4\(secret)".utf8), Array(authorization.date.utf8))
        for part in [authorization.region, authorization.service, "aws4_request"] {
            signingKey = hmac(signingKey, Array(part.utf8))
        }
        return hex(hmac(signingKey, Array(stringToSign.utf8)))
    }

    /// The canonical request, as botocore forms it.
    public static func canonicalRequest(_ request: Request, signedHeaders: [String]) -> String {
        let parts = request.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? "/"
        let query = parts.count > 1 ? String(parts[1]) : ""
        let pairs = query.split(separator: "&").map { item -> (String, String) in
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
        }
        let canonicalQuery = pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
        let headers = signedHeaders.map { name in
            "\(name):\(request.header(name).map(collapsed).joined(separator: ","))\n"
        }.joined()
        let payload =
            request.header("x-amz-content-sha256").first.map { $0 == "UNSIGNED-PAYLOAD" ? $0 : $0.lowercased() }
            ?? hex(sha256(request.body))
        return [
            request.method.uppercased(), encode(path.isEmpty ? "/" : path, keepSlash: true), canonicalQuery, headers,
            signedHeaders.joined(separator: ";"), payload,
        ].joined(separator: "\n")
    }

    /// Percent-encodes every byte but the unreserved ones (and `/` in a path).
    static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                let digits = Array("0123456789ABCDEF")
                out += "%\(digits[Int(byte >> 4)])\(digits[Int(byte & 15)])"
            }
        }
        return out
    }

    static func collapsed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    // MARK: - Time

    /// `20261205T142015Z` → epoch seconds.
    static func epochSeconds(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? { Int64(String(decoding: bytes[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
            let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        return CivilTime.days(year: Int(year), month: Int(month), day: Int(day)) * 86400 + hour * 3600 + minute * 60
            + second
    }

    /// `20261205T142015Z`.
    static func iso(_ seconds: Int64) -> String {
        let time = CivilTime(seconds: seconds)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(time.year)\(two(time.month))\(two(time.day))T\(two(time.hour))\(two(time.minute))\(two(time.second))Z"
    }

    // MARK: - libcrypto

    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        _ = data.withUnsafeBufferPointer { SHA256($0.baseAddress, data.count, &digest) }
        return digest
    }

    public static func hmac(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 32
        _ = HMAC(EVP_sha256(), key, Int32(key.count), data, data.count, &digest, &length)
        return digest
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var out = ""
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return out
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

private func trimmed(_ text: Substring) -> String {
    String(String(text.drop { $0 == " " }.reversed()).drop { $0 == " " }.reversed())
}

extension String {
    fileprivate func replacingIfLater(_ later: Bool, with other: String) -> String { later ? other : self }
}

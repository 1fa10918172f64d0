import HubCore
import HubCrypto
import Testing

/// SigV4 as botocore signs it: a vector made with botocore 1.43's SigV4Auth (a Publish on
/// `$aws/things/lamp/shadow/update`, its '/' sent as %2F, at 2026-12-05T14:20:15Z).
@Suite struct SigV4Tests {
    static let request = SigV4.Request(
        method: "POST", target: "/topics/%24aws%2Fthings%2Flamp%2Fshadow%2Fupdate?qos=1&retain=false",
        headers: [
            ("Host", "127.0.0.1:8443"), ("Content-Type", "application/json"), ("X-Amz-Date", "20261205T142015Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=HHAKTESTKEY000000000/20261205/eu-west-1/iotdata/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=d4479c81d86613b4b6ca593e55020e955215e1c8fdfce11ab5c50d950fa85a12"
            ),
        ],
        body: Array(#"{"state":{}}"#.utf8))
    static let signedAt: Int64 = 1_796_480_415  // 2026-12-05T14:20:15Z

    func secret(_ key: String) -> String? { key == "HHAKTESTKEY000000000" ? "secret/with+chars" : nil }

    @Test func botocoresSignatureVerifies() throws {
        let authorization = try SigV4.verify(Self.request, now: Self.signedAt + 60, secret: secret)
        #expect(authorization.accessKeyID == "HHAKTESTKEY000000000" && authorization.region == "eu-west-1")
    }

    @Test func theCanonicalPathIsEncodedOnceMore() {
        let canonical = SigV4.canonicalRequest(Self.request, signedHeaders: ["content-type", "host", "x-amz-date"])
        #expect(canonical.split(separator: "\n")[1] == "/topics/%2524aws%252Fthings%252Flamp%252Fshadow%252Fupdate")
        #expect(canonical.split(separator: "\n")[2] == "qos=1&retain=false")
    }

    @Test func eachFailureHasItsKind() {
        func kind(_ request: SigV4.Request, now: Int64 = Self.signedAt, secret: (String) -> String?) -> SigV4.Failure
            .Kind?
        {
            do {
                _ = try SigV4.verify(request, now: now, secret: secret)
                return nil
            } catch {
                return error.kind
            }
        }
        var tampered = Self.request
        tampered.body = Array(#"{"state":{"x":1}}"#.utf8)
        #expect(kind(tampered, secret: secret) == .mismatch)
        #expect(kind(Self.request, secret: { _ in "another secret" }) == .mismatch)
        #expect(kind(Self.request, secret: { _ in nil }) == .unknownKey)
        #expect(kind(Self.request, now: Self.signedAt + 16 * 60, secret: secret) == .expired)
        #expect(kind(Self.request, now: Self.signedAt - 16 * 60, secret: secret) == .expired)
        var unsigned = Self.request
        unsigned.headers.removeAll { $0.name == "Authorization" }
        #expect(kind(unsigned, secret: secret) == .missing)
        var otherService = Self.request
        otherService.headers = otherService.headers.map {
            $0.name == "Authorization" ? ($0.name, $0.value.replacingIotdata()) : $0
        }
        #expect(kind(otherService, secret: secret) == .malformed)
    }

    @Test func base64MatchesRFC4648() {
        #expect(Base64.encode(Array("".utf8)) == "")
        #expect(Base64.encode(Array("f".utf8)) == "Zg==")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode([0xFF, 0xFE, 0xFD]) == "//79")
        for text in ["", "f", "fo", "foo", "foobar", "any carnal pleasure."] {
            #expect(Base64.decode(Base64.encode(Array(text.utf8))) == Array(text.utf8))
        }
        #expect(Base64.decode("not base64!") == nil)
    }
}

extension String {
    fileprivate func replacingIotdata() -> String {
        guard let range = range(of: "/iotdata/") else { return self }
        return replacingCharacters(in: range, with: "/s3/")
    }
}

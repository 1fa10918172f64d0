import HubCrypto

/// SigV4 on requests nobody designed: any request the fuzzer makes, signed with a known secret,
/// verifies; the same request with another body or another target does not; and no input makes
/// the verifier crash.
enum FuzzSigV4 {
    static let secret = "fuzz/secret+key"
    static let amzDate = "20261205T142015Z"
    static let now: Int64 = 1_796_480_415

    static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.split(separator: "\n\n", maxSplits: 1, omittingEmptySubsequences: false)
        var lines = parts[0].split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard !lines.isEmpty else { return }
        let requestLine = lines.removeFirst().split(separator: " ", maxSplits: 1)
        guard requestLine.count == 2 else { return }
        var headers: [(name: String, value: String)] = [("Host", "127.0.0.1:8443"), ("X-Amz-Date", amzDate)]
        for line in lines {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, !pair[0].isEmpty, !pair[0].contains(" ") else { continue }
            let name = String(pair[0])
            guard !["host", "x-amz-date", "authorization"].contains(name.lowercased()) else { continue }
            headers.append((name, String(pair[1])))
        }
        let body = parts.count > 1 ? Array(parts[1].utf8) : []
        var request = SigV4.Request(
            method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body)

        // Any stray Authorization the input might carry: verifying must refuse or accept, never crash.
        _ = try? SigV4.verify(request, now: now) { _ in secret }

        let signed = Array(Set(headers.map { $0.name.lowercased() })).sorted()
        var authorization = SigV4.Authorization(
            accessKeyID: "HHAKFUZZ000000000000", date: "20261205", region: "eu-west-1", service: "iotdata",
            signedHeaders: signed, signature: "")
        authorization.signature = SigV4.signature(request, authorization, amzDate: amzDate, secret: secret)
        request.headers.append(
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(authorization.accessKeyID)/\(authorization.scope), SignedHeaders=\(signed.joined(separator: ";")), Signature=\(authorization.signature)"
            ))
        let accepted = (try? SigV4.verify(request, now: now) { _ in secret }) != nil
        FuzzProperty.check(
            accepted, "sigv4: a request signed for itself was refused: \(request.method) \(request.target)")

        if request.headers.first(where: { $0.name.lowercased() == "x-amz-content-sha256" }) == nil {
            var changed = request
            changed.body.append(0x20)
            FuzzProperty.check(
                (try? SigV4.verify(changed, now: now) { _ in secret }) == nil,
                "sigv4: a changed body still verified: \(request.target)")
        }
        var moved = request
        moved.target = request.target + "x"
        FuzzProperty.check(
            (try? SigV4.verify(moved, now: now) { _ in secret }) == nil,
            "sigv4: a changed target still verified: \(request.target)")
    }
}

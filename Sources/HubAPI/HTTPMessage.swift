public import HubCore

/// Who is on the other end of the Unix socket, from SO_PEERCRED.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// A request read whole from the socket.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path without the query, percent-decoded.
    public var path: String
    public var query: [String: String]
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var peer: PeerCredentials?
    /// The body parsed as JSON, once, by the API (nil: empty, not JSON, or not parsed).
    public var json: JSONValue?
    /// The request target exactly as sent (path and query, still percent-encoded): what a
    /// signature covers.
    public var target: String = ""
    /// Who the transport says is asking (HTTPS: the application whose key signed it); nil on the
    /// Unix socket, where the peer's credentials say it.
    public var identity: Identity?
    /// The client's IP address on a TCP listener (nil on the Unix socket).
    public var remoteAddress: String?
    /// The way in, as the audit log names it: `api` (the control socket), `https`.
    public var via = "api"

    public init(
        method: String, path: String, query: [String: String] = [:], headers: [(name: String, value: String)] = [],
        body: [UInt8] = [], peer: PeerCredentials? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.peer = peer
    }

    /// The body read as JSON; nil when empty or not JSON.
    public var bodyJSON: JSONValue? { body.isEmpty ? nil : try? JSONParser().parse(body) }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Splits a request target into a decoded path and query items.
    public static func splitTarget(_ target: String) -> (path: String, query: [String: String]) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count > 1 {
            for item in parts[1].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = percentDecoded(String(pair[0]))
                query[key] = pair.count > 1 ? percentDecoded(String(pair[1])) : ""
            }
        }
        return (percentDecoded(String(parts[0])), query)
    }

    /// RFC 3986 percent-decoding: `+` stays `+` (form encoding's space is not URI syntax; an
    /// AWS path such as `%24aws/things/a+b` and a time zone offset `+02:00` must arrive intact).
    static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A response: a whole body, or a live feed of events sent as server-sent events.
public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        case events(EventFeed)
    }

    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Body

    public init(status: Int, headers: [(name: String, value: String)] = [], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ value: JSONValue, status: Int = 200, headers: [(name: String, value: String)] = [])
        -> HTTPResponse
    {
        HTTPResponse(
            status: status, headers: [("Content-Type", "application/json")] + headers,
            body: .bytes(value.compactBytes + [0x0A]))
    }

    public static func text(_ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8")
        -> HTTPResponse
    {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: .bytes(Array(text.utf8)))
    }

    /// The control API's error shape: `{"code": N, "message": "..."}`.
    public static func error(_ status: Int, _ message: String, errorType: String? = nil) -> HTTPResponse {
        json(
            ["code": .integer(Int64(status)), "message": .string(message)], status: status,
            headers: errorType.map { [("x-amzn-ErrorType", $0)] } ?? [])
    }

    /// A service's refusal: the status its kind maps to, and its message.
    public static func error(_ error: HubError) -> HTTPResponse {
        .error(HTTPStatus.of(error.kind), error.message)
    }

    /// An AWS shadow error: status = code, `x-amzn-ErrorType`, body `{"code", "message"}`.
    public static func shadowError(_ error: ShadowError) -> HTTPResponse {
        .error(error.code, error.message, errorType: error.exceptionName)
    }
}

/// Anything that answers requests.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest) async -> HTTPResponse
}

/// The one place where the domain's kinds of refusal become HTTP statuses.
public enum HTTPStatus {
    public static func of(_ kind: HubError.Kind) -> Int {
        switch kind {
        case .invalid: return 400
        case .forbidden: return 403
        case .notFound: return 404
        case .conflict: return 409
        case .unavailable: return 503
        default: return 500
        }
    }
}

/// Live events for a server-sent-events response. `events` is bounded by whoever feeds it;
/// `dropped` yields a reason when the feed gave up on a client that does not keep up, and the
/// server then closes the connection instead of waiting on that client for ever.
public struct EventFeed: Sendable {
    public var events: AsyncStream<JSONValue>
    public var dropped: AsyncStream<String>

    public init(events: AsyncStream<JSONValue>, dropped: AsyncStream<String>) {
        self.events = events
        self.dropped = dropped
    }
}

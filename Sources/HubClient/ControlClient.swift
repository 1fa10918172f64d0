public import HubCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 client for the control socket, on swift-nio's HTTP codec (the same one the
/// server uses): no HTTP parsing of our own, and none of the TLS stack a Unix socket never needs.
public struct ControlClient: Sendable {
    public let socketPath: String

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public var json: JSONValue? { try? JSONParser().parse(body) }
        /// The `message` of an error body, or the body as text.
        public var message: String {
            json?["message"]?.stringValue ?? String(decoding: body, as: UTF8.self)
        }
    }

    public enum Failure: Error, CustomStringConvertible, Sendable {
        case cannotConnect(path: String, reason: String)
        case connectionClosed

        public var description: String {
            switch self {
            case .cannotConnect(let path, let reason):
                return "cannot connect to the hub at \(path): \(reason)"
            case .connectionClosed:
                return "the hub closed the connection before answering"
            }
        }
    }

    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    func connect() async throws -> Connection {
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as IOError {
            throw Failure.cannotConnect(path: socketPath, reason: error.description)
        } catch {
            throw Failure.cannotConnect(path: socketPath, reason: "\(error)")
        }
    }

    /// One request, the whole answer. A GET whose connection the hub closed before answering
    /// (it was restarting, or under load) is tried once more; a change never is — it may have
    /// been applied (an unlock must not run twice).
    public func request(_ method: String, _ path: String, body: [UInt8]? = nil) async throws -> Response {
        guard method == "GET" else { return try await requestOnce(method, path, body: body) }
        do {
            return try await requestOnce(method, path, body: body)
        } catch is ChannelError {
            return try await requestOnce(method, path, body: body)
        } catch Failure.connectionClosed {
            return try await requestOnce(method, path, body: body)
        }
    }

    func requestOnce(_ method: String, _ path: String, body: [UInt8]?) async throws -> Response {
        let connection = try await connect()
        return try await connection.executeThenClose { inbound, outbound in
            try await send(method, path, body: body, to: outbound)
            var response: Response?
            for try await part in inbound {
                switch part {
                case .head(let head):
                    response = Response(
                        status: Int(head.status.code), headers: head.headers.map { ($0.name, $0.value) }, body: [])
                case .body(let chunk):
                    response?.body.append(contentsOf: chunk.readableBytesView)
                case .end:
                    if let response { return response }
                }
            }
            throw Failure.connectionClosed
        }
    }

    /// A streaming GET: `onHead` sees the status first, then `onLine` gets each line of the body.
    public func stream(
        _ path: String, onHead: (Int) async throws -> Void, onLine: (String) async throws -> Void
    ) async throws {
        let connection = try await connect()
        try await connection.executeThenClose { inbound, outbound in
            try await send("GET", path, body: nil, to: outbound)
            var pending: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let head):
                    try await onHead(Int(head.status.code))
                case .body(let chunk):
                    pending.append(contentsOf: chunk.readableBytesView)
                    while let newline = pending.firstIndex(of: 0x0A) {
                        let line = String(decoding: pending[..<newline], as: UTF8.self)
                        pending.removeSubrange(...newline)
                        try await onLine(line)
                    }
                case .end:
                    return
                }
            }
        }
    }

    func send(
        _ method: String, _ path: String, body: [UInt8]?,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    )
        async throws
    {
        var headers = HTTPHeaders([("Host", "localhost"), ("User-Agent", "hubctl"), ("Connection", "close")])
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.count))
        }
        try await outbound.write(
            .head(HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path, headers: headers))
        )
        if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        try await outbound.write(.end(nil))
    }
}

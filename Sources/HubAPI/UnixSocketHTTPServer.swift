public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// HTTP/1.1 on a Unix socket — or over TLS on TCP — on swift-nio's server bootstrap and HTTP codec.
///
/// Not Hummingbird, which binds sockets only by path: systemd socket activation hands us an
/// already-bound descriptor, which NIO's `ServerBootstrap.bind(_:)` adopts. The HTTPS listener
/// is the same code with swift-nio-ssl's handler in front of the codec: one request loop, one
/// responder protocol, for both ways in. Each connection is a task that reads a request, asks the
/// responder, and writes the answer (keep-alive honoured).
public struct UnixSocketHTTPServer: Sendable {
    /// Where to listen: a path to bind (stale files removed, mode and group set), or a
    /// descriptor inherited from systemd.
    public enum Listener: Sendable {
        case path(String, mode: UInt32 = 0o660, group: UInt32? = nil)
        case inheritedDescriptor(Int32)
        /// TCP on `host:port` with TLS from a PEM certificate chain and key.
        case tls(host: String, port: Int, certificateFile: String, keyFile: String)
    }

    public let listener: Listener
    public let responder: any HTTPResponder
    public let maxBodyBytes: Int
    let logger: Logger

    public init(listener: Listener, responder: any HTTPResponder, maxBodyBytes: Int = 1 << 20, logger: Logger) {
        self.listener = listener
        self.responder = responder
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// Serves until the task is cancelled; `onListening` runs once the socket accepts.
    public func run(onListening: @Sendable () -> Void = {}) async throws {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<(Connection, PeerCredentials?)> = { channel in
            Self.peerCredentials(of: channel).flatMapThrowing { peer in
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                return (try Connection(wrappingChannelSynchronously: channel), peer)
            }
        }
        let server: NIOAsyncChannel<(Connection, PeerCredentials?), Never>
        switch listener {
        case .tls(let host, let port, let certificateFile, let keyFile):
            let context = try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))))
            server = try await bootstrap.bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return (try Connection(wrappingChannelSynchronously: channel), nil)
                }
            }
            logger.info("HTTPS listening", metadata: ["address": "\(host):\(port)"])
        case .path(let path, let mode, let group):
            try Self.removeStaleSocket(at: path)
            server = try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: initializer)
            chmod(path, mode_t(mode))
            if let group, chown(path, uid_t.max, gid_t(group)) != 0 {
                logger.warning("cannot give the control socket to group \(group): \(String(cString: strerror(errno)))")
            }
            logger.info("control API listening", metadata: ["socket": "\(path)"])
        case .inheritedDescriptor(let descriptor):
            server = try await bootstrap.bind(descriptor, childChannelInitializer: initializer)
            logger.info("control API listening on the socket systemd passed", metadata: ["fd": "\(descriptor)"])
        }
        onListening()
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await (connection, peer) in inbound {
                    group.addTask { await serve(connection, peer: peer) }
                }
            }
        }
    }

    /// A socket file nobody answers on is stale and removed; one that answers means another
    /// hub is running, which is an error rather than something to steal.
    static func removeStaleSocket(at path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard (status.st_mode & S_IFMT) == S_IFSOCK else {
            throw IOError(errnoCode: EEXIST, reason: "\(path) exists and is not a socket")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let bytes = Array(path.utf8.prefix(buffer.count - 1))
            buffer.copyBytes(from: bytes + [0])
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected == 0 {
            throw IOError(errnoCode: EADDRINUSE, reason: "another process is serving \(path)")
        }
        unlink(path)
    }

    static func peerCredentials(of channel: any Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        // SO_PEERCRED fills a struct ucred { pid_t pid; uid_t uid; gid_t gid; }.
        let future: EventLoopFuture<PeerCredentialsStruct> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { Optional(PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid)) }
            .recover { _ in nil }
    }

    struct PeerCredentialsStruct: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    func serve(_ connection: Connection, peer: PeerCredentials?) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        body = []
                        tooLarge = false
                    case .body(let chunk):
                        if body.count + chunk.readableBytes > maxBodyBytes {
                            tooLarge = true
                        } else {
                            body.append(contentsOf: chunk.readableBytesView)
                        }
                    case .end:
                        guard let requestHead = head else { continue }
                        let response: HTTPResponse
                        if tooLarge {
                            response = .error(413, "request body is over the limit of \(maxBodyBytes) bytes")
                        } else {
                            let (path, query) = HTTPRequest.splitTarget(requestHead.uri)
                            var request = HTTPRequest(
                                method: requestHead.method.rawValue, path: path, query: query,
                                headers: requestHead.headers.map { ($0.name, $0.value) }, body: body, peer: peer)
                            request.target = requestHead.uri
                            request.remoteAddress = connection.channel.remoteAddress?.ipAddress
                            response = await responder.respond(to: request)
                        }
                        let keepAlive = try await write(
                            response, for: requestHead, to: outbound, closing: connection.channel)
                        if !keepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("control connection ended: \(error)")
        }
    }

    /// Writes the response; returns whether the connection stays open.
    func write(
        _ response: HTTPResponse, for request: HTTPRequestHead,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, closing channel: any Channel
    ) async throws -> Bool {
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
        let keepAlive: Bool
        switch response.body {
        case .bytes(let bytes):
            headers.replaceOrAdd(name: "Content-Length", value: String(bytes.count))
            keepAlive = request.isKeepAlive
            headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
            try await outbound.write(
                .head(
                    HTTPResponseHead(
                        version: request.version, status: .init(statusCode: response.status), headers: headers)))
            if !bytes.isEmpty && request.method != .HEAD {
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes))))
            }
            try await outbound.write(.end(nil))
        case .events(let feed):
            keepAlive = false
            headers.replaceOrAdd(name: "Connection", value: "close")
            headers.replaceOrAdd(name: "Cache-Control", value: "no-cache")
            try await outbound.write(
                .head(
                    HTTPResponseHead(
                        version: request.version, status: .init(statusCode: response.status), headers: headers)))
            try await Self.writeEvents(feed, to: outbound, closing: channel)
            try await outbound.write(.end(nil))
        }
        return keepAlive
    }

    /// One `data:` line of JSON per event, after a comment line that tells the client it is
    /// subscribed. The writer waits while the client does not read (NIO's writability); if the
    /// feed drops the client meanwhile, the connection is closed, which fails the waiting write.
    static func writeEvents(
        _ feed: EventFeed, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        closing channel: any Channel
    ) async throws {
        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: ": homehub events\n\n"))))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in feed.events {
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(string: "data: \(event.compactText)\n\n"))))
                }
            }
            group.addTask {
                for await reason in feed.dropped {
                    channel.close(promise: nil)
                    throw DroppedSubscriber(reason: reason)
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    struct DroppedSubscriber: Error, CustomStringConvertible {
        var reason: String
        var description: String { "event subscriber dropped: \(reason)" }
    }
}

import Dispatch
import HubAPI
import HubCore
import HubDaemon
import Logging
import Prometheus
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Control-API requests against a real hub assembled in-process (its SQLite store in a
/// temporary directory, the shadow, command and schedule services), with nothing started: no
/// broker, no plugins, no socket. The input's first line is "METHOD /path?query", the rest the
/// body; the caller is root, so every route is reachable.
///
/// Properties: every answer is a status between 200 and 499 (a 500 means bad input reached a
/// failure path), and every error body is `{"code", "message"}` naming the problem.
enum FuzzHTTP {
    /// The hub's directory, removed when the process exits normally. Under
    /// HOMEHUB_FUZZ_TMPDIR when set (the regression test removes that itself), else on tmpfs
    /// when there is one: every accepted change is an fsync.
    static let directory: String = {
        let base =
            getenv("HOMEHUB_FUZZ_TMPDIR").map { String(cString: $0) }
            ?? (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
        var template = Array("\(base)/homehub-fuzz-http.XXXXXX".utf8CString)
        guard let directory = mkdtemp(&template).map({ String(cString: $0) }) else {
            fatalError("cannot create a temporary directory for the HTTP fuzzer")
        }
        atexit { _ = system("rm -rf '\(FuzzHTTP.directory)'") }
        return directory
    }()

    static var api: ControlAPI { hub.api }

    /// The whole assembly, kept for the process's life (its MQTT clients must outlive every use).
    static let hub: HubDaemon.Assembly = {
        var configuration = HubConfiguration()
        configuration.hub.dataDirectory = directory + "/data"
        configuration.hub.socket = directory + "/hubctl.sock"
        configuration.hub.timeZone = "Europe/Berlin"
        configuration.mqtt.mode = .external
        configuration.mqtt.host = "127.0.0.1"
        configuration.mqtt.port = 9  // never connected: no service runs
        configuration.plugins.directories = []
        configuration.things = [.init(name: "lamp")]
        configuration.shadows.requestsPerSecondPerThing = 1e9
        var logger = Logger(label: "homehub.fuzz")
        logger.logLevel = .critical
        let settled = Settled<HubDaemon.Assembly>()
        Task {
            do {
                let hub = try await HubDaemon.assemble(
                    configuration, logger: logger, metrics: PrometheusCollectorRegistry())
                settled.set(hub)
            } catch {
                fatalError("cannot assemble the hub for the HTTP fuzzer: \(error)")
            }
        }
        return settled.wait()
    }()

    static let root = PeerCredentials(pid: getpid(), uid: 0, gid: 0)

    static func run(_ bytes: [UInt8]) {
        let newline = bytes.firstIndex(of: 0x0A) ?? bytes.endIndex
        let requestLine = String(decoding: bytes[..<newline], as: UTF8.self)
        let words = requestLine.split(separator: " ", maxSplits: 1)
        guard words.count == 2 else { return }
        let method = String(words[0])
        // A stream never ends by itself; the streaming routes are exercised by the integration tests.
        guard ["GET", "POST", "PUT", "DELETE"].contains(method), !words[1].hasPrefix("/v1/events") else { return }
        let (path, query) = HTTPRequest.splitTarget(String(words[1]))
        let body = newline < bytes.endIndex ? Array(bytes[(newline + 1)...]) : []
        let request = HTTPRequest(method: method, path: path, query: query, body: body, peer: root)
        let settled = Settled<HTTPResponse>()
        Task { settled.set(await api.respond(to: request)) }
        let response = settled.wait()
        FuzzProperty.check(
            (200..<500).contains(response.status),
            "\(requestLine) answered \(response.status): \(describe(response))")
        if response.status >= 400, case .bytes(let body) = response.body {
            let message = (try? JSONParser().parse(body))?["message"]?.stringValue ?? ""
            FuzzProperty.check(!message.isEmpty, "\(requestLine) answered \(response.status) without a message")
        }
    }

    static func describe(_ response: HTTPResponse) -> String {
        guard case .bytes(let body) = response.body else { return "(a stream)" }
        return String(decoding: body.prefix(300), as: UTF8.self)
    }
}

/// A value produced by a task, waited for by a thread that is not in the task pool (libFuzzer's).
final class Settled<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func set(_ newValue: Value) {
        value.withLock { $0 = .some(newValue) }
        ready.signal()
    }

    func wait() -> Value {
        ready.wait()
        return value.withLock { $0.take()! }
    }
}

import ArgumentParser
import HubClient
import HubCore

#if canImport(Glibc)
    import Glibc
#endif

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The hub's control socket.")
    var socket: String?

    @Flag(name: .long, help: "Print JSON for scripts instead of tables.")
    var json = false

    var socketPath: String {
        if let socket { return socket }
        if let environment = getenv("HUBCTL_SOCKET"), environment.pointee != 0 { return String(cString: environment) }
        var status = stat()
        if stat("run/hubctl.sock", &status) == 0 { return "run/hubctl.sock" }
        return "/run/homehub/hubctl.sock"
    }

    var client: ControlClient { ControlClient(socketPath: socketPath) }

    /// Sends a request; on anything but 2xx prints the hub's message and exits with its code.
    func call(_ method: String, _ path: String, body: JSONValue? = nil) async throws -> JSONValue {
        let response: ControlClient.Response
        do {
            response = try await client.request(method, path, body: body?.compactBytes)
        } catch {
            throw Output.fail("\(error)", code: .cannotConnect)
        }
        guard (200..<300).contains(response.status) else {
            if json { print(response.json?.compactText ?? response.message) }
            throw Output.fail(response.message, code: ExitStatus(httpStatus: response.status))
        }
        return response.json ?? .null
    }
}

/// hubctl's exit statuses (documented in `hubctl --help` and the man page).
enum ExitStatus: Int32 {
    case success = 0
    case rejected = 1
    case hubFailed = 2
    case cannotConnect = 3
    case permissionDenied = 4
    case notFound = 5
    case timedOut = 6
    case usage = 64

    init(httpStatus: Int) {
        switch httpStatus {
        case 200..<300: self = .success
        case 403, 401: self = .permissionDenied
        case 404: self = .notFound
        case 408, 504: self = .timedOut
        case 500...: self = .hubFailed
        default: self = .rejected
        }
    }
}

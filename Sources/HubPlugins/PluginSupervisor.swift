public import HubCore
import HubProcess
public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// What the plugin host needs from the hub.
public protocol PluginHostDelegate: Sendable {
    /// The plugin's devices with their current shadows, for `initialize` (and after a restart).
    func devices(for plugin: DiscoveredPlugin) async -> [JSONValue]
    /// `shadow.report`: apply reported state through the normal update path. Returns an error
    /// message when the hub rejected it.
    func report(plugin: String, thing: String, shadow: String?, reported: JSONObject) async -> String?
    /// `device.event`.
    func deviceEvent(plugin: String, thing: String?, event: String, data: JSONValue) async
    /// `command.progress` and `command.result`, for the command ledger.
    func commandUpdate(plugin: String, method: String, params: JSONValue) async
    /// A plugin process was restarted after it died or hung.
    func pluginRestarted(plugin: String, reason: String) async
    /// The plugin's state changed (running, backing-off, quarantined, …).
    func pluginStateChanged(plugin: String, state: PluginSupervisor.State) async
    /// Bridges (API 2): device types declared at run time, `{NAME: definition}` as in a
    /// manifest. Returns the problem, or nil.
    func declareTypes(plugin: String, _ types: JSONObject) async -> String?
    /// Bridges (API 2): a thing of one of the plugin's types, added or changed.
    func registerThing(plugin: String, thing: String, type: String, config: JSONObject) async -> String?
    /// Bridges (API 2): a thing gone from the bridge; its shadows and history stay.
    func thingGone(plugin: String, thing: String) async -> String?
}

extension PluginHostDelegate {
    public func pluginStateChanged(plugin: String, state: PluginSupervisor.State) async {}
    public func declareTypes(plugin: String, _ types: JSONObject) async -> String? { "this hub takes no bridges" }
    public func registerThing(plugin: String, thing: String, type: String, config: JSONObject) async -> String? {
        "this hub takes no bridges"
    }
    public func thingGone(plugin: String, thing: String) async -> String? { "this hub takes no bridges" }
}

/// Limits and timings of the plugin host; the defaults suit a home hub.
public struct PluginHostOptions: Sendable {
    public var maxLineBytes = 1 << 20
    /// Messages per second a plugin may send, sustained (bursts up to twice that); more is a flood.
    public var maxMessagesPerSecond = 500.0
    /// Where the host reads monotonic time (rates, crash windows).
    public var clock: any HubClock = SystemClock()
    public var pingInterval: Duration = .seconds(10)
    public var replyDeadline: Duration = .seconds(5)
    public var initialBackoff = 0.5
    public var maxBackoff = 30.0
    /// This many crashes within `crashWindowSeconds` quarantine the plugin.
    public var crashesBeforeQuarantine = 5
    public var crashWindowSeconds = 120.0
    /// Where plugins may keep state (passed as HOMEHUB_PLUGIN_STATE_DIR/<id>).
    public var stateDirectory: String?
    /// Settings from hub.toml by plugin (`[plugins.NAME]`: the id, or its last part), for `initialize`.
    public var settings: [String: JSONObject] = [:]

    /// The settings of the plugin `id`: `[plugins.ID]`, else `[plugins.LAST]` for `vendor.LAST`.
    public func settings(of id: String) -> JSONObject {
        if let exact = settings[id] { return exact }
        if let last = id.split(separator: ".").last, let short = settings[String(last)] { return short }
        return [:]
    }

    public init() {}
}

/// Runs one plugin: starts it, speaks JSON-RPC 2.0 over its stdio, restarts it with exponential
/// backoff and jitter when it dies, hangs, floods or writes garbage, and quarantines it after
/// repeated crashes.
public actor PluginSupervisor {
    public enum State: String, Sendable {
        case starting, running
        case backingOff = "backing-off"
        case quarantined, stopped
    }

    public let plugin: DiscoveredPlugin
    let options: PluginHostOptions
    let delegate: any PluginHostDelegate
    let logger: Logger

    public private(set) var state: State = .starting
    public private(set) var restarts = 0
    public private(set) var lastProblem: String?
    public private(set) var pid: Int32?
    private var crashTimes: [Double] = []
    private var process: PluginProcess?
    private var nextID = 0
    private var pending: [Int: CheckedContinuation<JSONValue, any Error>] = [:]
    private var limiter: RateLimiter
    private var restartRequested = false

    public init(plugin: DiscoveredPlugin, options: PluginHostOptions, delegate: any PluginHostDelegate, logger: Logger)
    {
        self.plugin = plugin
        self.options = options
        self.delegate = delegate
        var logger = logger
        logger[metadataKey: "plugin.id"] = "\(plugin.manifest.id)"
        self.logger = logger
        self.limiter = RateLimiter(
            requestsPerSecond: options.maxMessagesPerSecond, burst: options.maxMessagesPerSecond * 2)
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        /// Whether the request reached the plugin (false: it was never written).
        public var sent = true

        public init(description: String, sent: Bool = true) {
            self.description = description
            self.sent = sent
        }
    }

    /// Keeps the plugin running until the task is cancelled.
    public func run() async {
        guard let executable = plugin.executablePath else { return }
        var backoff = options.initialBackoff
        while !Task.isCancelled {
            await setState(.starting)
            let started = monotonicSeconds()
            let reason = await runOnce(executable: executable)
            process = nil
            pid = nil
            failPending(reason)
            if Task.isCancelled { break }
            if restartRequested {
                restartRequested = false
                backoff = options.initialBackoff
                continue
            }
            lastProblem = reason
            let now = monotonicSeconds()
            if now - started > options.crashWindowSeconds { backoff = options.initialBackoff }
            crashTimes = crashTimes.filter { now - $0 < options.crashWindowSeconds } + [now]
            if crashTimes.count >= options.crashesBeforeQuarantine {
                await setState(.quarantined)
                logger.error(
                    "plugin quarantined after \(crashTimes.count) failures in \(Int(options.crashWindowSeconds)) s; last: \(reason)"
                )
                return
            }
            await setState(.backingOff)
            let delay = backoff * Double.random(in: 0.8...1.2)
            logger.warning("plugin failed: \(reason); restarting in \(String(format2: delay)) s")
            try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            backoff = min(backoff * 2, options.maxBackoff)
            restarts += 1
            await delegate.pluginRestarted(plugin: plugin.manifest.id, reason: reason)
        }
        await setState(.stopped)
    }

    /// Restarts the plugin now (also out of quarantine); `hubctl plugins restart ID`.
    public func requestRestart() {
        crashTimes = []
        restartRequested = true
        process?.child.signalGroup(SIGKILL)
    }

    /// One life of the plugin process; returns why it ended.
    private func runOnce(executable: String) async -> String {
        var environment = ChildProcess.environmentWithoutSystemd()
        environment.append("HOMEHUB_PLUGIN_ID=\(plugin.manifest.id)")
        if let stateDirectory = options.stateDirectory {
            let directory = stateDirectory + "/" + plugin.manifest.id
            mkdir(stateDirectory, 0o750)
            mkdir(directory, 0o750)
            environment.append("HOMEHUB_PLUGIN_STATE_DIR=\(directory)")
        }
        let logger = self.logger
        let process: PluginProcess
        do {
            process = try PluginProcess(
                executable: executable, arguments: plugin.manifest.arguments, environment: environment,
                maxLineBytes: options.maxLineBytes,
                onStderr: { line in logger.info("\(line)", metadata: ["stream": "stderr"]) })
        } catch {
            return "cannot start: \(error)"
        }
        self.process = process
        pid = process.child.pid
        logger.info("plugin started", metadata: ["pid": "\(process.child.pid)"])
        let reason: String = await withTaskGroup(of: String.self) { group in
            group.addTask { await self.readLoop(process) }
            group.addTask {
                do {
                    try await self.initialize()
                    await self.markRunning()
                    try await self.pingLoop()
                    return "stopped"
                } catch is CancellationError {
                    return "stopped"
                } catch {
                    return "\(error)"
                }
            }
            group.addTask {
                let exit = await process.child.waitForExit()
                return "process \(exit)"
            }
            var first = await group.next() ?? "stopped"
            // The process must end before the group can: waiting for its exit is not cancellable.
            if Task.isCancelled {
                await self.shutdownGracefully(process)
            } else {
                if first == Self.closedOutput, let exit = await Self.exit(of: process, within: .seconds(1)) {
                    first = "process \(exit)"  // it died: say how, rather than what the pipe saw
                }
                process.child.signalGroup(SIGKILL)
            }
            group.cancelAll()
            return first
        }
        _ = await process.child.waitForExit()
        process.closeInput()
        return reason
    }

    private func markRunning() async {
        await setState(.running)
    }

    /// Changes the state and tells the delegate (Home Assistant's availability follows it).
    private func setState(_ new: State) async {
        guard new != state else { return }
        state = new
        await delegate.pluginStateChanged(plugin: plugin.manifest.id, state: new)
    }

    private func shutdownGracefully(_ process: PluginProcess) async {
        let id = nextRequestID()
        _ = process.send(
            JSONValue.object(["jsonrpc": "2.0", "id": .integer(Int64(id)), "method": "shutdown"]).compactBytes)
        process.closeInputAfterQueued()
        _ = await process.child.terminate(graceSeconds: 2)
    }

    private func initialize() async throws {
        let devices = await delegate.devices(for: plugin)
        _ = try await request(
            "initialize",
            [
                "hubVersion": .string(HubVersion.current), "apiVersion": .integer(Int64(plugin.manifest.apiVersion)),
                "devices": .array(devices), "settings": .object(options.settings(of: plugin.manifest.id)),
            ])
        logger.info("plugin initialized", metadata: ["devices": "\(devices.count)"])
    }

    private func pingLoop() async throws {
        while true {
            try await Task.sleep(for: options.pingInterval)
            _ = try await request("ping", [:])
        }
    }

    /// Sends a request and waits for its answer, at most the reply deadline.
    public func request(_ method: String, _ params: JSONValue) async throws -> JSONValue {
        guard let process, state == .running || method == "initialize" else {
            throw Failure(description: "plugin '\(plugin.manifest.id)' is not running (\(state.rawValue))", sent: false)
        }
        let id = nextRequestID()
        let line = JSONValue.object([
            "jsonrpc": "2.0", "id": .integer(Int64(id)), "method": .string(method), "params": params,
        ])
        let deadline = options.replyDeadline
        let timer = Task {
            try await Task.sleep(for: deadline)
            self.expire(id, method: method)
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            pending[id] = continuation
            if !process.send(line.compactBytes) {
                pending.removeValue(forKey: id)?.resume(
                    throwing: Failure(description: "cannot write to the plugin (it closed its input)", sent: false))
            }
        }
    }

    /// Sends a notification (no answer expected); false when the plugin is not running.
    @discardableResult
    public func notify(_ method: String, _ params: JSONValue) -> Bool {
        guard let process else { return false }
        return process.send(
            JSONValue.object(["jsonrpc": "2.0", "method": .string(method), "params": params]).compactBytes)
    }

    private func expire(_ id: Int, method: String) {
        guard let continuation = pending.removeValue(forKey: id) else { return }
        continuation.resume(
            throwing: Failure(description: "no answer to '\(method)' within \(options.replyDeadline) (hung)"))
        // A plugin that does not answer is killed; the supervisor restarts it.
        process?.child.signalGroup(SIGKILL)
    }

    private func failPending(_ reason: String) {
        let all = pending
        pending = [:]
        for continuation in all.values { continuation.resume(throwing: Failure(description: reason)) }
    }

    private func nextRequestID() -> Int {
        nextID += 1
        return nextID
    }

    /// Reads the plugin's messages until its stdout closes or it misbehaves; returns why.
    private func readLoop(_ process: PluginProcess) async -> String {
        for await event in process.lines {
            switch event {
            case .lineTooLong(let size):
                return "the plugin wrote a line over \(options.maxLineBytes) bytes (\(size) and counting)"
            case .line(let bytes):
                if bytes.isEmpty { continue }
                guard limiter.allow("messages", at: monotonicNanoseconds()) else {
                    return
                        "the plugin sent more than \(Int(options.maxMessagesPerSecond)) messages per second, beyond a burst of \(Int(options.maxMessagesPerSecond * 2)) (flooding)"
                }
                let message: PluginMessage
                do {
                    message = try PluginMessage(line: bytes)
                } catch {
                    return error.description
                }
                await handle(message, process: process)
            }
        }
        return Self.closedOutput
    }

    static let closedOutput = "the plugin closed its output"

    /// The process's exit if it comes within `limit`.
    static func exit(of process: PluginProcess, within limit: Duration) async -> ChildProcess.Exit? {
        await withTaskGroup(of: ChildProcess.Exit?.self) { group in
            group.addTask { await process.child.waitForExit() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil { process.child.signalGroup(SIGKILL) }
            group.cancelAll()
            return first
        }
    }

    private func handle(_ message: PluginMessage, process: PluginProcess) async {
        switch message {
        case .call(let method, let params, let id):
            let reply = await dispatch(method, params)
            if let id {
                var response: JSONObject = ["jsonrpc": "2.0", "id": id]
                switch reply {
                case .success(let result): response["result"] = result
                case .failure(let error):
                    response["error"] = ["code": .integer(Int64(error.code)), "message": .string(error.message)]
                }
                _ = process.send(JSONValue.object(response).compactBytes)
            }
        case .answer(let id, let result):
            guard let id, let continuation = pending.removeValue(forKey: Int(id)) else {
                logger.debug("answer to no pending request (id \(id.map(String.init) ?? "none"))")
                return
            }
            switch result {
            case .success(let value): continuation.resume(returning: value)
            case .failure(let error):
                continuation.resume(throwing: Failure(description: "plugin error: \(error.message)"))
            }
        }
    }

    struct RPCError: Error {
        var code: Int
        var message: String
    }

    /// A call from the plugin.
    private func dispatch(_ method: String, _ params: JSONValue) async -> Result<JSONValue, RPCError> {
        let id = plugin.manifest.id
        switch method {
        case "shadow.report":
            guard let thing = params["thing"]?.stringValue, let reported = params["reported"]?.objectValue else {
                return .failure(
                    RPCError(code: -32602, message: "shadow.report needs 'thing' and 'reported' (an object)"))
            }
            if let problem = await delegate.report(
                plugin: id, thing: thing, shadow: params["shadow"]?.stringValue, reported: reported)
            {
                logger.warning("report rejected: \(problem)", metadata: ["device.id": "\(thing)"])
                return .failure(RPCError(code: 400, message: problem))
            }
            return .success(true)
        case "device.event":
            guard let event = params["event"]?.stringValue else {
                return .failure(RPCError(code: -32602, message: "device.event needs 'event'"))
            }
            await delegate.deviceEvent(
                plugin: id, thing: params["thing"]?.stringValue, event: event, data: params["data"] ?? .null)
            return .success(true)
        case "command.progress", "command.result":
            await delegate.commandUpdate(plugin: id, method: method, params: params)
            return .success(true)
        case "types.declare", "things.register", "things.gone":
            guard plugin.manifest.apiVersion >= 2 else {
                return .failure(
                    RPCError(
                        code: -32601,
                        message:
                            "'\(method)' is hub API 2; the manifest's hubApi.max is \(plugin.manifest.apiRange.upperBound)"
                    ))
            }
            let problem: String?
            switch method {
            case "types.declare":
                guard let types = params["types"]?.objectValue else {
                    return .failure(RPCError(code: -32602, message: "types.declare needs 'types': {NAME: definition}"))
                }
                problem = await delegate.declareTypes(plugin: id, types)
            case "things.register":
                guard let thing = params["thing"]?.stringValue, let type = params["type"]?.stringValue else {
                    return .failure(RPCError(code: -32602, message: "things.register needs 'thing' and 'type'"))
                }
                problem = await delegate.registerThing(
                    plugin: id, thing: thing, type: type, config: params["config"]?.objectValue ?? [:])
            default:
                guard let thing = params["thing"]?.stringValue else {
                    return .failure(RPCError(code: -32602, message: "things.gone needs 'thing'"))
                }
                problem = await delegate.thingGone(plugin: id, thing: thing)
            }
            if let problem {
                logger.warning("\(method) refused: \(problem)")
                return .failure(RPCError(code: 400, message: problem))
            }
            return .success(true)
        case "log":
            let text = params["message"]?.stringValue ?? params.compactText
            switch params["level"]?.stringValue {
            case "error": logger.error("\(text)")
            case "warning": logger.warning("\(text)")
            case "debug": logger.debug("\(text)")
            default: logger.info("\(text)")
            }
            return .success(true)
        default:
            return .failure(RPCError(code: -32601, message: "unknown method '\(method)'"))
        }
    }

    public func statusJSON() -> JSONValue {
        [
            "id": .string(plugin.manifest.id), "name": .string(plugin.manifest.name),
            "version": .string(plugin.manifest.version), "directory": .string(plugin.directory),
            "state": .string(state.rawValue), "pid": pid.map { .integer(Int64($0)) } ?? .null,
            "restarts": .integer(Int64(restarts)), "lastProblem": lastProblem.map(JSONValue.string) ?? .null,
            "deviceTypes": .array(plugin.manifest.deviceTypes.map { .string($0.name) }),
        ]
    }

    func monotonicSeconds() -> Double { options.clock.monotonicSeconds() }
    func monotonicNanoseconds() -> UInt64 { options.clock.monotonicNanoseconds() }
}

extension String {
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        self = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}

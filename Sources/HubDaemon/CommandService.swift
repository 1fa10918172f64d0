import AsyncAlgorithms
import HubCore
import HubPlugins
import HubStore
import Logging
import ServiceLifecycle

/// The command ledger at work: creates commands, delivers them one at a time per device (to a
/// plugin by `command.execute`, to an MQTT device through `desired.command`), follows their
/// heartbeats and deadlines on an injected clock, and records every transition durably.
actor CommandService {
    let store: HubStore
    let shadows: ShadowService
    let plugins: PluginManager
    let events: EventBus
    let clock: any HubClock
    let logger: Logger
    /// Commands not yet final, by id.
    private var active: [String: Command] = [:]
    /// MQTT commands already written into `desired.command`.
    private var published: Set<String> = []
    /// Plugin deliveries under way (a request is in flight).
    private var delivering: Set<String> = []
    private var nextRetry: [String: Int64] = [:]

    init(
        store: HubStore, shadows: ShadowService, plugins: PluginManager, events: EventBus, clock: any HubClock,
        logger: Logger
    ) {
        self.store = store
        self.shadows = shadows
        self.plugins = plugins
        self.events = events
        self.clock = clock
        self.logger = logger
    }

    /// Recovery at start (docs/commands.md): queued commands wait for delivery as before; a
    /// command a plugin was running is FAILED — the plugin died with the hub, and the command is
    /// never sent again, so it never runs twice; an MQTT device's command keeps its stored
    /// deadlines (the device may still be working on it and will report).
    func recover() async throws {
        let now = clock.epochMilliseconds()
        for var command in try await store.activeCommands() {
            if command.delivery == "plugin" && command.state != .queued {
                command.apply(
                    .abandoned(
                        code: "hub_restarted",
                        message: "interrupted: the hub restarted while the plugin ran it; not sent again"),
                    at: now)
                record(command)
                continue
            }
            if command.delivery == "mqtt" { published.insert(command.id) }
            active[command.id] = command
        }
        logger.info("command ledger recovered", metadata: ["commands.active": "\(active.count)"])
    }

    // MARK: - Requests

    struct Request {
        var thing: String
        var name: String
        var parameters: JSONObject
        var ttlSeconds: Double?
        var timeoutSeconds: Double?
        var idempotencyKey: String?
        var requester: JSONObject
    }

    /// The schema of `name` for `thing`, or why there is none.
    func lookUp(thing: String, name: String) -> Result<(DeviceType, CommandSchema), HubError> {
        guard let type = shadows.registry.deviceType(of: thing) else {
            return .failure(
                .notFound(
                    "thing '\(thing)' is not registered with a device type that has commands (hubctl things add \(thing) --type T)"
                ))
        }
        guard let schema = type.commands[name] else {
            let known = type.commands.keys.sorted().joined(separator: ", ")
            return .failure(
                .notFound(
                    "\(type.name) '\(thing)' has no command '\(name)' (commands: \(known.isEmpty ? "none" : known))"))
        }
        return .success((type, schema))
    }

    /// Creates a command (201), or returns the existing one for a repeated idempotency key (200).
    func create(_ request: Request) async -> Result<(Command, created: Bool), HubError> {
        if let key = request.idempotencyKey {
            if let existing = active.values.first(where: { $0.idempotencyKey == key }) {
                return .success((existing, false))
            }
            if let existing = try? await store.command(idempotencyKey: key) { return .success((existing, false)) }
        }
        let (type, schema): (DeviceType, CommandSchema)
        switch lookUp(thing: request.thing, name: request.name) {
        case .success(let found): (type, schema) = found
        case .failure(let error): return .failure(error)
        }
        // The lookups above suspended: another request with the same key may have created it since.
        if let key = request.idempotencyKey, let existing = active.values.first(where: { $0.idempotencyKey == key }) {
            return .success((existing, false))
        }
        let now = clock.epochMilliseconds()
        var command = Command(
            id: Self.makeID(at: now), idempotencyKey: request.idempotencyKey, thing: request.thing, name: request.name,
            parameters: request.parameters, requester: request.requester,
            delivery: plugins.plugin(providing: type.name)?.executablePath != nil ? "plugin" : "mqtt",
            idempotent: schema.idempotent, createdAt: now,
            ttlMilliseconds: Int64((request.ttlSeconds ?? 60) * 1000),
            timeoutMilliseconds: Int64((request.timeoutSeconds ?? schema.timeoutSeconds) * 1000),
            heartbeatMilliseconds: Int64(schema.heartbeatSeconds * 1000))
        if let problem = Self.invalidParameters(
            request.parameters, schema: schema, command: request.name, thing: request.thing, type: type.name)
        {
            command.apply(.invalidParameters(reason: problem), at: now)
        }
        active[command.id] = command.state.isFinal ? nil : command
        do {
            try await store.saveCommand(command)
        } catch {
            active[command.id] = nil
            return .failure(HubError(.unavailable, "cannot record the command: \(error)"))
        }
        announce(command)
        if !command.state.isFinal { await dispatch(thing: command.thing) }
        return .success((active[command.id] ?? command, true))
    }

    static func invalidParameters(
        _ parameters: JSONObject, schema: CommandSchema, command: String, thing: String, type: String
    ) -> String? {
        for (key, value) in parameters {
            guard let attribute = schema.parameters[key] else {
                return "command '\(command)' of \(type) '\(thing)' has no parameter '\(key)'"
            }
            if let violation = attribute.violation(of: value) {
                return "parameter '\(key)' of command '\(command)' \(violation) (got \(value))"
            }
        }
        return nil
    }

    /// A unique id that sorts by creation time: milliseconds in hex, then 64 random bits.
    static func makeID(at milliseconds: Int64) -> String {
        let time = String(UInt64(milliseconds), radix: 16)
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "cmd-" + String(repeating: "0", count: max(0, 12 - time.count)) + time + "-"
            + String(repeating: "0", count: max(0, 16 - random.count)) + random
    }

    func cancel(_ id: String, by who: String) async -> Result<Command, HubError> {
        guard var command = active[id] else {
            if let stored = try? await store.command(id: id) {
                return .failure(.conflict("command \(id) already ended \(stored.state.rawValue)"))
            }
            return .failure(.notFound("no command \(id)"))
        }
        // Applied to the ledger's current state before anything suspends.
        let actions = command.apply(.cancel(by: who), at: clock.epochMilliseconds())
        let type = shadows.registry.deviceType(of: command.thing)
        let written = record(command)
        if actions.contains(.cancelOnDevice), command.delivery == "plugin", let type {
            await plugins.notify(type: type.name, "command.cancel", ["commandId": .string(id)])
        }
        await finishIfFinal(command, written: written)
        return .success(command)
    }

    // MARK: - Delivery

    /// Delivers the oldest queued command of `thing` if nothing else runs there.
    func dispatch(thing: String) async {
        let mine = active.values.filter { $0.thing == thing }.sorted { $0.id < $1.id }
        guard let head = mine.first else { return }
        // One at a time, in order: the head is running, being delivered, or waiting for a retry.
        if head.state != .queued || delivering.contains(head.id) || published.contains(head.id) { return }
        if let retry = nextRetry[head.id], retry > clock.epochMilliseconds() { return }
        if head.delivery == "mqtt" {
            await publishDesired(thing: thing, adding: head)
        } else {
            await deliverToPlugin(head)
        }
    }

    func deliverToPlugin(_ command: Command) async {
        guard let type = shadows.registry.deviceType(of: command.thing) else {
            logger.warning("command for a thing without a device type", metadata: ["command.id": "\(command.id)"])
            return
        }
        logger.debug("delivering command", metadata: ["command.id": "\(command.id)", "device.type": "\(type.name)"])
        delivering.insert(command.id)
        let params: JSONValue = [
            "commandId": .string(command.id), "thing": .string(command.thing), "command": .string(command.name),
            "parameters": .object(command.parameters),
            "heartbeatSeconds": .number(JSONNumber(Double(command.heartbeatMilliseconds) / 1000)),
            "deadline": .integer(command.createdAt + command.timeoutMilliseconds),
        ]
        let outcome: Result<JSONValue, PluginSupervisor.Failure>
        do {
            outcome = .success(try await plugins.request(type: type.name, "command.execute", params))
        } catch let failure as PluginSupervisor.Failure {
            outcome = .failure(failure)
        } catch {
            outcome = .failure(PluginSupervisor.Failure(description: "\(error)"))
        }
        delivering.remove(command.id)
        // Re-read after the await: a result, cancel or tick may have moved it meanwhile.
        guard var current = active[command.id], current.state == .queued else { return }
        let now = clock.epochMilliseconds()
        switch outcome {
        case .success(let answer):
            // (apply first: an argument list would pass the copy from before the transition)
            let actions: [CommandAction]
            if answer["accepted"] == false {
                actions = current.apply(
                    .refused(reason: answer["reason"]?.stringValue ?? "the device refused"), at: now)
            } else {
                actions = current.apply(.delivered, at: now)
            }
            await update(current, actions: actions)
        case .failure(let failure) where !failure.sent || current.idempotent:
            // Never reached the plugin (or safe to repeat): try again shortly, until the TTL.
            nextRetry[current.id] = now + 500
            logger.info("command not delivered yet: \(failure)", metadata: ["command.id": "\(current.id)"])
        case .failure(let failure):
            // It may have reached the plugin: a command that is not idempotent is never sent twice.
            var actions = current.apply(.delivered, at: now)
            actions += current.apply(
                .failed(
                    message: "delivery uncertain (\(failure)); not retried because '\(current.name)' is not idempotent",
                    result: nil),
                at: now)
            await update(current, actions: actions)
        }
    }

    /// The MQTT pattern: the device's commands live in `desired.command`; this rewrites that
    /// array to hold exactly the thing's published, unfinished commands.
    func publishDesired(thing: String, adding command: Command?) async {
        if let command { published.insert(command.id) }
        let entries: [JSONValue] = active.values
            .filter { $0.thing == thing && published.contains($0.id) && !$0.state.isFinal }
            .sorted { $0.id < $1.id }
            .map { entry in
                [
                    "commandId": .string(entry.id), "command": .string(entry.name),
                    "parameters": .object(entry.parameters),
                    "ttl": .integer(entry.deliverBy / 1000),
                    "heartbeatSeconds": .number(JSONNumber(Double(entry.heartbeatMilliseconds) / 1000)),
                ]
            }
        let payload: JSONValue = [
            "state": ["desired": ["command": entries.isEmpty ? .null : .array(entries)]],
            "clientToken": .string("commands:\(thing)"),
        ]
        let result = await shadows.perform(
            .init(.update, ShadowID(unchecked: thing, shadowName: nil), payload: payload.compactBytes), origin: .command
        )
        if case .failure(let error) = result {
            logger.error("cannot write desired.command", metadata: ["device.id": "\(thing)", "error": "\(error)"])
        }
    }

    // MARK: - Updates from devices

    /// `command.progress` / `command.result` from a plugin, or a `cmd/THING/response` message.
    func report(id: String, thing: String?, status: String, progress: Double?, message: String?, result: JSONValue?)
        async
    {
        // What the device's state says is read first: from here on nothing suspends until the
        // transition is applied to the command as the ledger holds it now.
        let verification = status == "SUCCEEDED" ? await verificationProblem(commandID: id) : nil
        let now = clock.epochMilliseconds()
        guard var command = active[id] else {
            // A result after the end is recorded, never applied.
            if var stored = try? await store.command(id: id), stored.state.isFinal,
                status == "SUCCEEDED" || status == "FAILED"
            {
                stored.apply(
                    status == "SUCCEEDED"
                        ? .succeeded(message: message, result: result) : .failed(message: message, result: result),
                    at: now)
                record(stored)
            }
            return
        }
        if let thing, thing != command.thing { return }
        var actions: [CommandAction] = []
        if command.state == .queued {
            // The device's word proves delivery (for a plugin, its result can overtake the
            // answer to command.execute, which is handled on another task).
            actions += command.apply(.delivered, at: now)
        }
        switch status {
        case "RUNNING":
            actions += command.apply(.progress(percent: progress, message: message), at: now)
        case "SUCCEEDED":
            if let problem = verification {
                actions += command.apply(.failed(message: problem, result: result), at: now)
            } else {
                actions += command.apply(.succeeded(message: message, result: result), at: now)
            }
        case "FAILED":
            actions += command.apply(.failed(message: message, result: result), at: now)
        default:
            logger.warning("unknown command status '\(status)'", metadata: ["command.id": "\(id)"])
            return
        }
        await update(command, actions: actions)
    }

    /// Success means the device's state shows it: the command's `verify` values must be what the
    /// thing's primary shadow durably reports.
    func verificationProblem(commandID: String) async -> String? {
        guard let command = active[commandID], let type = shadows.registry.deviceType(of: command.thing),
            let schema = type.commands[command.name], !schema.verify.isEmpty, let shadow = type.primaryShadow
        else { return nil }
        let reported = await shadows.record(ShadowID(unchecked: command.thing, shadowName: shadow))?.reported ?? [:]
        for (key, expected) in schema.verify.sorted(by: { $0.key < $1.key }) where reported[key] != expected {
            return
                "the device reported success but its \(key) is \(reported[key]?.compactText ?? "missing"), not \(expected.compactText)"
        }
        return nil
    }

    // MARK: - Time

    /// Checks every deadline; called by the timer with the injected clock's time. Each command
    /// is read from the ledger's current state when its turn comes, never from a copy taken
    /// before an earlier command's write suspended: a result that lands meanwhile stays.
    func tick() async {
        let now = clock.epochMilliseconds()
        for id in Array(active.keys) {
            guard var command = active[id], !command.state.isFinal else { continue }
            let before = command.state
            let actions = command.apply(.tick, at: now)
            if command.state != before { await update(command, actions: actions) }
        }
        for thing in Set(active.values.map(\.thing)) { await dispatch(thing: thing) }
    }

    // MARK: - Bookkeeping

    /// Records a transition already applied to the current state (no suspension since it was
    /// read), then, for a final state, takes the command off its device once durable.
    func update(_ command: Command, actions: [CommandAction]) async {
        await finishIfFinal(command, written: record(command))
    }

    func finishIfFinal(_ command: Command, written: WriteTicket) async {
        guard command.state.isFinal else { return }
        // A command leaves memory only once its final state is durable: a read right after
        // the end then finds it in the ledger, never the state before it.
        try? await written.wait()
        active[command.id] = nil
        nextRetry[command.id] = nil
        if published.remove(command.id) != nil { await publishDesired(thing: command.thing, adding: nil) }
        await dispatch(thing: command.thing)
    }

    /// Writes the command to the ledger (in order) and announces it. A final command stays in
    /// memory (final: nothing changes it) until ``finishIfFinal(_:written:)`` sees it durable.
    @discardableResult
    func record(_ command: Command) -> WriteTicket {
        if active[command.id] != nil || !command.state.isFinal { active[command.id] = command }
        let ticket = store.enqueueSaveCommand(command)
        announce(command)
        return ticket
    }

    func announce(_ command: Command) {
        // Created and final states are worth a line in the log (`journalctl DEVICE=frontdoor`).
        if command.state.isFinal || command.transitions.count <= 1 {
            logger.log(
                level: command.state.isFinal && command.state != .succeeded ? .warning : .info,
                "command \(command.name) \(command.state.rawValue)",
                metadata: [
                    "command.id": "\(command.id)", "device.id": "\(command.thing)",
                    "reason": "\(command.transitions.last?.reason ?? "")",
                ])
        }
        events.publish([
            "type": "command.updated", "thing": .string(command.thing), "id": .string(command.id),
            "command": .string(command.name), "state": .string(command.state.rawValue),
            "progress": command.progress.map { .number(JSONNumber($0)) } ?? .null,
            "message": command.message.map(JSONValue.string) ?? .null,
            "reason": .string(command.transitions.last?.reason ?? ""), "time": .integer(command.updatedAt / 1000),
        ])
    }

    func activeCount() -> Int { active.count }

    func command(_ id: String) async -> Command? {
        if let command = active[id] { return command }
        return try? await store.command(id: id)
    }
}

/// Runs the command timer (deadlines checked every 100 ms against the hub's clock) and feeds
/// the devices' progress and results to the ledger, in the order they came.
struct CommandTimerService: Service {
    let commands: CommandService
    /// Unbuffered: a producer (a plugin's reader, the MQTT loop) waits until its update is taken.
    let updates: AsyncChannel<CommandUpdate>

    func run() async throws {
        try await runUntilGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    for await update in updates {
                        await commands.report(
                            id: update.id, thing: update.thing, status: update.status, progress: update.progress,
                            message: update.message, result: update.result)
                    }
                }
                while true {
                    try await Task.sleep(for: .milliseconds(100))
                    await commands.tick()
                }
            }
        }
    }
}

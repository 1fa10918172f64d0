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
    var active: [String: Command] = [:]
    /// MQTT commands already written into `desired.command`.
    var published: Set<String> = []
    /// Plugin deliveries under way (a request is in flight).
    var delivering: Set<String> = []
    var nextRetry: [String: Int64] = [:]

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
        /// Who asks, and by which path (api, schedule): a sensitive command needs the sensitive role.
        var identity: Identity
        var path: String
    }

    /// The schema of `name` for `thing`, or why there is none.
    func lookUp(thing: String, name: String) -> Result<(DeviceType, CommandSchema), HubError> {
        if let gone = shadows.registry.thing(thing)?.goneAt {
            return .failure(
                .conflict(
                    "thing '\(thing)' is gone from its bridge (since \(gone), epoch seconds): it cannot run commands until the bridge has it again"
                ))
        }
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
        let permission = type.permission(toRun: request.name)
        if let refusal = shadows.access.refusal(
            request.identity, needs: permission, on: request.thing,
            action:
                "run the \(permission == .sensitive ? "sensitive " : "")command '\(request.name)' on '\(request.thing)'"
        ) {
            // The control API audits its own requests; other paths are audited here.
            if request.path != "api" {
                shadows.access.refused(
                    request.identity, path: request.path, action: "command \(request.name)", target: request.thing,
                    reason: refusal)
            }
            return .failure(HubError(.forbidden, refusal))
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
            "requester": .object(command.requester),
        ])
    }

    func activeCount() -> Int { active.count }

    func command(_ id: String) async -> Command? {
        if let command = active[id] { return command }
        return try? await store.command(id: id)
    }
}

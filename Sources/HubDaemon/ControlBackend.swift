import HubAPI
import HubCore
import HubCrypto
import HubPlugins
import HubStore
import Logging
import Metrics

/// The daemon's side of the control API: shadows through the shadow service, things and the
/// audit log in the store, events from the bus.
struct ControlBackend: HubBackend {
    let shadows: ShadowService
    let store: HubStore
    let status: HubStatus
    let events: EventBus
    let clock: any HubClock
    let limits: ShadowLimits
    let plugins: PluginManager
    let commands: CommandService
    let schedules: ScheduleService
    let authority: DeviceCA?
    let tlsPort: Int
    let logger: Logger
    let metrics: @Sendable () -> String

    func epochSeconds() -> Int64 { clock.epochSeconds() }

    func shadow(_ operation: ShadowTopic.Operation, id: ShadowID, payload: [UInt8]) async -> Result<
        JSONValue, ShadowError
    > {
        await shadows.perform(.init(operation, id, payload: payload), origin: .api).map(\.accepted)
    }

    func namedShadows(of thing: String) async -> [String] { await shadows.namedShadows(of: thing) }

    func health() async -> (ready: Bool, detail: JSONValue) { await status.health() }

    func status() async -> JSONValue {
        let (_, health) = await status.health()
        let things = shadows.registry.count
        return [
            "version": .string(HubStatus.version),
            "uptimeSeconds": health["uptimeSeconds"] ?? 0,
            "ready": .bool(status.isReady),
            "broker": health["broker"] ?? .null,
            "plugins": .array(
                ((await plugins.statusJSON())["plugins"]?.arrayValue ?? []).map { plugin in
                    [
                        "id": plugin["id"] ?? .null, "state": plugin["state"] ?? .null,
                        "restarts": plugin["restarts"] ?? .null,
                    ]
                }),
            "counts": [
                "things": .integer(Int64(things)),
                "shadows": .integer(Int64(await shadows.shadowCount)),
                "commands": .integer(Int64((try? await store.commandCount()) ?? 0)),
                "activeCommands": .integer(Int64(await commands.activeCount())),
                "schedules": .integer(Int64(await schedules.scheduleCount)),
            ],
            "eventSubscribers": .integer(Int64(events.subscriberCount)),
        ]
    }

    func things() async -> JSONValue {
        var result: [JSONValue] = []
        for thing in shadows.registry.all() {
            let shadowNames = await shadows.shadows(of: thing.name).map { $0.id.shadowName ?? "" }
            result.append(summary(thing, shadows: shadowNames))
        }
        return ["things": .array(result)]
    }

    func summary(_ thing: ThingRegistration, shadows: [String]) -> JSONValue {
        [
            "name": .string(thing.name), "type": thing.deviceType.map(JSONValue.string) ?? .null,
            "config": .object(thing.config), "createdAt": .integer(thing.createdAt),
            "shadows": .array(shadows.map { $0.isEmpty ? .null : .string($0) }),
        ]
    }

    func thing(_ name: String) async -> Result<JSONValue, HubError> {
        let registered = shadows.registry.thing(name)
        let live = await shadows.shadows(of: name)
        guard registered != nil || !live.isEmpty else {
            return .failure(
                .notFound("no thing named '\(name)': it is not registered and has no shadows (see hubctl things list)"))
        }
        let now = clock.epochSeconds()
        var shadowList: [JSONValue] = []
        var connectivity: JSONValue = ["connected": .null, "since": .null, "source": "unknown"]
        for (id, record) in live {
            var document = (try? shadows.engine.get(record, id: id, clientToken: nil, at: now)) ?? .null
            if case .object(var object) = document {
                object["name"] = id.shadowName.map(JSONValue.string) ?? .null
                document = .object(object)
            }
            shadowList.append(document)
            // Devices that follow the AWS pattern report `connected` (their last will clears it).
            if let connected = record.reported?["connected"]?.boolValue {
                connectivity = [
                    "connected": .bool(connected),
                    "since": record.reportedMetadata?["connected"]?["timestamp"] ?? .null,
                    "source": .string("shadow \(id.shadowName ?? "(classic)") reported.connected"),
                ]
            }
        }
        var body: JSONObject = [
            "name": .string(name),
            "registered": .bool(registered != nil),
            "type": registered?.deviceType.map(JSONValue.string) ?? .null,
            "config": .object(registered?.config ?? [:]),
            "connectivity": connectivity,
            "shadows": .array(shadowList),
        ]
        if let registered { body["createdAt"] = .integer(registered.createdAt) }
        if let type = shadows.registry.deviceType(of: name) {
            body["primaryShadow"] = type.primaryShadow.map(JSONValue.string) ?? .null
            body["deviceType"] = PluginManager.describe(type)
            body["plugin"] = plugins.plugin(providing: type.name).map { .string($0.manifest.id) } ?? .null
        }
        return .success(.object(body))
    }

    func registerThing(_ request: JSONValue) async -> Result<JSONValue, HubError> {
        guard case .object(let object) = request else { return .failure(.invalid("the body must be a JSON object")) }
        guard let name = object["name"]?.stringValue else {
            return .failure(.invalid("'name' is required: {\"name\": \"livingroom\", \"type\": \"heater\"}"))
        }
        do {
            try ShadowNameRules.validateThingName(name, limits: limits)
        } catch {
            return .failure(.invalid(error.message))
        }
        var type: String?
        switch object["type"] {
        case nil, .null?: type = nil
        case .string(let value)?: type = value
        default: return .failure(.invalid("'type' must be a string naming a device type"))
        }
        var config = JSONObject()
        switch object["config"] {
        case nil, .null?: break
        case .object(let value)?: config = value
        default: return .failure(.invalid("'config' must be a JSON object"))
        }
        let registration = ThingRegistration(
            name: name, deviceType: type, config: config, createdAt: clock.epochSeconds())
        do {
            let existing = shadows.registry.thing(name)
            try await store.registerThing(registration)
            shadows.registry.register(registration)
            if let type {
                let device = await PluginBridge.device(registration, shadows: shadows)
                await plugins.notify(type: type, "device.added", ["device": device])
            }
            events.publish([
                "type": "thing.registered", "thing": .string(name), "deviceType": type.map(JSONValue.string) ?? .null,
            ])
            return .success(
                summary(
                    existing.map {
                        var kept = registration
                        kept.createdAt = $0.createdAt
                        return kept
                    } ?? registration, shadows: []))
        } catch {
            logger.error("cannot register thing", metadata: ["device.id": "\(name)", "error": "\(error)"])
            return .failure(HubError(.internal, "cannot store the thing: \(error)"))
        }
    }

    func removeThing(_ name: String) async -> Result<JSONValue, HubError> {
        do {
            let type = shadows.registry.thing(name)?.deviceType
            guard try await store.removeThing(name) else {
                return .failure(.notFound("no registered thing named '\(name)'"))
            }
            shadows.registry.remove(name)
            if let type { await plugins.notify(type: type, "device.removed", ["thing": .string(name)]) }
            events.publish(["type": "thing.removed", "thing": .string(name)])
            return .success(["name": .string(name), "removed": true])
        } catch {
            return .failure(HubError(.internal, "cannot remove the thing: \(error)"))
        }
    }

    func events(thing: String?) -> EventFeed {
        let subscription = events.subscribe(thing: thing)
        return EventFeed(events: subscription.events, dropped: subscription.dropped)
    }

    func commandPermission(thing: String, command: String) async -> Permission {
        shadows.registry.deviceType(of: thing)?.commands[command]?.sensitive == true ? .sensitive : .write
    }

    func createCommand(thing: String, request: JSONValue, caller: Caller?) async -> Result<
        (JSONValue, created: Bool), HubError
    > {
        guard let name = request["command"]?.stringValue else {
            return .failure(.invalid("'command' is required: {\"command\": \"unlock\", \"parameters\": {…}}"))
        }
        var parameters = JSONObject()
        switch request["parameters"] {
        case nil, .null?: break
        case .object(let value)?: parameters = value
        default: return .failure(.invalid("'parameters' must be a JSON object"))
        }
        func seconds(_ key: String) -> Result<Double?, HubError> {
            switch request[key] {
            case nil, .null?: return .success(nil)
            case .number(let number)? where number.doubleValue > 0: return .success(number.doubleValue)
            default: return .failure(.invalid("'\(key)' must be a number of seconds above 0"))
            }
        }
        let ttl: Double?
        let timeout: Double?
        switch (seconds("ttlSeconds"), seconds("timeoutSeconds")) {
        case (.success(let a), .success(let b)): (ttl, timeout) = (a, b)
        case (.failure(let error), _), (_, .failure(let error)): return .failure(error)
        }
        var requester: JSONObject = [:]
        if let caller {
            requester = [
                "uid": .integer(Int64(caller.uid)), "user": .string(caller.userName),
                "pid": .integer(Int64(caller.pid)),
            ]
        }
        let key = request["idempotencyKey"]?.stringValue
        return await commands.create(
            .init(
                thing: thing, name: name, parameters: parameters, ttlSeconds: ttl, timeoutSeconds: timeout,
                idempotencyKey: key, requester: requester)
        ).map { ($0.0.json, $0.created) }
    }

    func commands(thing: String?, state: String?, limit: Int) async -> Result<JSONValue, HubError> {
        if let state, CommandState(rawValue: state) == nil {
            return .failure(
                .invalid("state must be one of \(CommandState.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        do {
            return .success([
                "commands": .array(try await store.commands(thing: thing, state: state, limit: limit).map(\.json))
            ])
        } catch {
            return .failure(HubError(.internal, "cannot read the command ledger: \(error)"))
        }
    }

    func command(_ id: String) async -> Result<JSONValue, HubError> {
        guard let command = await commands.command(id) else { return .failure(.notFound("no command \(id)")) }
        return .success(command.json)
    }

    func cancelCommand(_ id: String, caller: Caller?) async -> Result<JSONValue, HubError> {
        await commands.cancel(id, by: caller.map { "\($0.userName) (uid \($0.uid))" } ?? "unknown").map(\.json)
    }

    func plugins() async -> JSONValue { await plugins.statusJSON() }

    /// A new key and client certificate for a registered thing, from the hub's CA: the broker's
    /// TLS listener knows the device by it and confines it to the thing's topics.
    func issueCertificate(thing: String) async -> Result<JSONValue, HubError> {
        guard let authority else {
            return .failure(
                HubError(
                    .conflict,
                    "the hub's CA issues certificates for its embedded broker only (mqtt.mode = \"embedded\")")
            )
        }
        guard shadows.registry.isRegistered(thing) else {
            return .failure(.notFound("thing '\(thing)' is not registered (hubctl things add \(thing))"))
        }
        do {
            let identity = try authority.issue(commonName: thing)
            logger.notice("device certificate issued", metadata: ["device.id": "\(thing)"])
            return .success([
                "thing": .string(thing), "key": .string(identity.key), "certificate": .string(identity.certificate),
                "ca": .string(authority.certificatePEM), "tlsPort": .integer(Int64(tlsPort)),
            ])
        } catch {
            return .failure(HubError(.internal, error.description))
        }
    }

    func schedules() async -> JSONValue { await schedules.list() }
    func schedule(_ id: String) async -> Result<JSONValue, HubError> { await schedules.detail(id) }
    func saveSchedule(id: String?, request: JSONValue) async -> Result<(JSONValue, created: Bool), HubError> {
        await schedules.save(request, id: id)
    }
    func removeSchedule(_ id: String) async -> Result<JSONValue, HubError> { await schedules.remove(id) }
    func setScheduleEnabled(_ id: String, _ enabled: Bool) async -> Result<JSONValue, HubError> {
        await schedules.setEnabled(id, enabled)
    }
    func resumeSchedule(_ id: String) async -> Result<JSONValue, HubError> { await schedules.resume(id) }
    func nextFirings(_ id: String, count: Int, from: String?) async -> Result<JSONValue, HubError> {
        await schedules.next(id, count: count, from: from)
    }

    func plugin(_ id: String) async -> Result<JSONValue, HubError> {
        guard let plugin = await plugins.pluginJSON(id) else {
            return .failure(.notFound("no plugin '\(id)' is loaded (see hubctl plugins list)"))
        }
        return .success(plugin)
    }

    func restartPlugin(_ id: String) async -> Result<JSONValue, HubError> {
        guard await plugins.restart(id) else {
            return .failure(.notFound("no plugin '\(id)' with a process is loaded (see hubctl plugins list)"))
        }
        return .success(["id": .string(id), "restarting": true])
    }

    func audit(limit: Int, target: String?) async -> Result<JSONValue, HubError> {
        do {
            let entries = try await store.auditEntries(limit: limit, target: target)
            return .success(["entries": .array(entries.map(\.json))])
        } catch {
            return .failure(HubError(.internal, "cannot read the audit log: \(error)"))
        }
    }

    func recordAudit(_ record: AuditRecord) async {
        let entry = AuditEntry(
            time: clock.epochSeconds(), uid: record.caller?.uid, user: record.caller?.userName, pid: record.pid,
            action: record.action, target: record.target, result: record.result, detail: record.detail)
        do {
            try await store.appendAudit(entry)
        } catch {
            logger.error("cannot write the audit log", metadata: ["action": "\(record.action)", "error": "\(error)"])
        }
        logger.info(
            "\(record.action) → \(record.result)",
            metadata: [
                "audit.user": "\(entry.user ?? "?")", "audit.uid": "\(entry.uid.map(String.init) ?? "?")",
                "audit.target": "\(record.target)",
            ])
    }

    func metricsText() -> String { metrics() }

    func countRequest(route: String, status: Int) {
        Counter(label: "homehub_api_requests_total", dimensions: [("route", route), ("status", String(status))])
            .increment()
    }
}

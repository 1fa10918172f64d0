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
    let identities: IdentityTable
    /// Applications are added, rotated and removed one at a time.
    let applicationChanges = OneAtATime()
    /// The broker's retained messages (AWS's GetRetainedMessage, ListRetainedMessages).
    let retained: RetainedMessages
    /// Publishes on the broker as the hub (AWS's Publish for topics that are not shadow requests).
    let mqttPublish: (@Sendable (String, [UInt8], Int, Bool, PublishProperties) async -> Bool)?
    /// The embedded broker's access files (nil with an external broker).
    let brokerAccess: BrokerAccess?
    let logger: Logger
    let metrics: @Sendable () -> String
    /// The dashboard's sessions (ended when a member's password changes or they are removed).
    var sessions = MemberSessions()
    /// Cloud sync's status (docs/cloud.md): `GET /v1/cloud`, `hubctl cloud status`.
    var cloudStatus: @Sendable () -> JSONValue = { ["enabled": false, "connected": false, "shadows": []] }

    func epochSeconds() -> Int64 { clock.epochSeconds() }

    func shadow(_ operation: ShadowTopic.Operation, id: ShadowID, payload: [UInt8], identity: Identity) async
        -> Result<JSONValue, ShadowError>
    {
        await shadows.perform(.init(operation, id, payload: payload), origin: .api, by: identity).map(\.accepted)
    }

    func namedShadows(of thing: String) async -> [String] { await shadows.namedShadows(of: thing) }

    func retainedMessage(_ topic: String) async -> JSONValue? { retained.message(topic) }

    func retainedMessages(maxResults: Int, nextToken: String?) async -> JSONValue {
        retained.list(maxResults: maxResults, after: nextToken)
    }

    func publish(
        topic: String, payload: [UInt8], qos: Int, retain: Bool, properties: PublishProperties, identity: Identity
    ) async -> Result<
        Void, ShadowError
    > {
        if let shadowTopic = ShadowTopic(topic) {
            // A shadow request, as on MQTT: its answer goes to …/accepted or …/rejected there.
            let id: ShadowID
            do {
                id = try shadowTopic.shadowID(limits: limits)
            } catch {
                return .failure(error)
            }
            let answer = await shadows.perform(
                .init(shadowTopic.operation, id, payload: payload), origin: .api, by: identity)
            if case .failure(let error) = answer, error.code == 403 { return .failure(error) }
            return .success(())
        }
        if let refusal = TopicRules.refusal(
            topic, for: identity,
            role: { shadows.access.rules.role(of: $0, on: $1, directory: shadows.access.directory) })
        {
            return .failure(ShadowError(code: 403, message: refusal))
        }
        guard let mqttPublish else {
            return .failure(ShadowError(code: 503, message: "the hub is not connected to an MQTT broker"))
        }
        return await mqttPublish(topic, payload, qos, retain, properties)
            ? .success(()) : .failure(ShadowError(code: 503, message: "the MQTT broker is not reachable; try again"))
    }

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

    func cloud() async -> JSONValue { cloudStatus() }

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
            "plugin": thing.deviceType.flatMap { plugins.plugin(providing: $0)?.manifest.id }.map(JSONValue.string)
                ?? .null,
            "goneAt": thing.goneAt.map(JSONValue.integer) ?? .null,
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
        if let registered {
            body["createdAt"] = .integer(registered.createdAt)
            body["goneAt"] = registered.goneAt.map(JSONValue.integer) ?? .null
        }
        if let type = shadows.registry.deviceType(of: name) {
            body["primaryShadow"] = type.primaryShadow.map(JSONValue.string) ?? .null
            body["deviceType"] = PluginManager.describe(type)
            body["plugin"] = plugins.plugin(providing: type.name).map { .string($0.manifest.id) } ?? .null
        }
        return .success(.object(body))
    }

    /// Why `identity` may not change or remove the registration of `name`: a thing whose type
    /// guards something (the door lock) keeps its guard unless someone who may open it says so —
    /// re-registered without its type, its lock shadow would be an ordinary one.
    func registrationRefusal(_ name: String, identity: Identity, removing: Bool) -> String? {
        guard let type = shadows.registry.deviceType(of: name),
            !type.sensitiveShadows.isEmpty || type.commands.values.contains(where: \.sensitive)
        else { return nil }
        return shadows.access.refusal(
            identity, needs: .sensitive, on: name,
            action:
                "\(removing ? "remove" : "change") the registration of \(type.name) '\(name)', whose type has sensitive shadows or commands"
        )
    }

    func registerThing(_ request: JSONValue, identity: Identity) async -> Result<JSONValue, HubError> {
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
        if let refusal = registrationRefusal(name, identity: identity, removing: false) {
            return .failure(HubError(.forbidden, refusal))
        }
        let previousType = shadows.registry.deviceType(of: name)
        do {
            // A thing registered again keeps its creation time (the store keeps it too).
            var stored = registration
            if let existing = shadows.registry.thing(name) { stored.createdAt = existing.createdAt }
            try await store.registerThing(registration)
            shadows.registry.register(stored)
            brokerAccess?.changed()
            await shadows.withdrawUnguardedDesires(of: name, previousType: previousType, path: "api")
            if let type {
                let device = await PluginBridge.device(stored, shadows: shadows)
                await plugins.notify(type: type, "device.added", ["device": device])
            }
            events.publish([
                "type": "thing.registered", "thing": .string(name), "deviceType": type.map(JSONValue.string) ?? .null,
            ])
            return .success(summary(stored, shadows: []))
        } catch {
            logger.error("cannot register thing", metadata: ["device.id": "\(name)", "error": "\(error)"])
            return .failure(HubError(.internal, "cannot store the thing: \(error)"))
        }
    }

    func removeThing(_ name: String, identity: Identity) async -> Result<JSONValue, HubError> {
        if let refusal = registrationRefusal(name, identity: identity, removing: true) {
            return .failure(HubError(.forbidden, refusal))
        }
        do {
            let type = shadows.registry.thing(name)?.deviceType
            guard try await store.removeThing(name) else {
                return .failure(.notFound("no registered thing named '\(name)'"))
            }
            shadows.registry.remove(name)
            brokerAccess?.changed()
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

    func metricsText() -> String { metrics() }

    func countRequest(route: String, status: Int) {
        Counter(label: "homehub_api_requests_total", dimensions: [("route", route), ("status", String(status))])
            .increment()
    }
}

import HubCore
import HubMQTT
import HubPlugins
import Logging
import Metrics
import ServiceLifecycle

/// Home Assistant's MQTT discovery (docs/home-assistant.md): the hub announces every registered
/// thing as Home Assistant entities, keeps their state and availability on retained topics,
/// and turns Home Assistant's commands into desired changes and ledger commands through the
/// same rules and audit as every other path, with the identity the broker stamped on them.
///
/// Two connections, as the shadow service has: commands and Home Assistant's announcements come
/// in on one; configs and states go out on the other, whose last will marks the hub offline.
///
/// One worker publishes, from a queue that keeps one pending entry per thing (``LatestValues``):
/// a burst of changes to a thing is one refresh of its states, whatever the rate. Each refresh
/// reads the thing's current state when it runs, so a newer change is never overtaken by an
/// older one; a payload equal to the one last published is not sent again unless forced.
struct HomeAssistantService: Service {
    let inbound: MQTTClient
    let outbound: MQTTClient
    let discovery: HomeAssistantDiscovery
    let shadows: ShadowService
    let commands: CommandService
    let plugins: PluginManager
    let events: EventBus
    let stampExpected: Bool
    let logger: Logger

    /// What the worker does next for a key (a thing's name, a stale config topic, or every thing).
    enum Work: Sendable {
        /// Publish the thing's configs, states and availability (all of them: `force`).
        case refresh(force: Bool)
        /// A retained config under the hub's node: cleared unless it is a current entity's.
        case staleConfig
        /// Every thing, the hub's own entity, and the clearing of things that are gone.
        case everything(force: Bool)

        static func merge(_ old: Work, _ new: Work) -> Work {
            switch (old, new) {
            case (.refresh(let a), .refresh(let b)): return .refresh(force: a || b)
            case (.everything(let a), .everything(let b)): return .everything(force: a || b)
            default: return new
            }
        }
    }

    /// The key of the work item that covers every thing (no thing name is empty).
    static let everyThing = ""

    static func willMessage(_ discovery: HomeAssistantDiscovery) -> MQTTMessage {
        MQTTMessage(topic: discovery.statusTopic, payload: Array("offline".utf8), qos: 1, retain: true)
    }

    func run() async throws {
        let work = LatestValues<String, Work>()
        try await outbound.connectUntilUp(logger: logger)
        try await inbound.connectUntilUp(logger: logger)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await publishLoop(work) }
                group.addTask { await followEvents(work) }
                group.addTask {
                    for await connected in outbound.connectionChanges where connected {
                        // A broker that restarted may have lost the retained messages.
                        work.put(Self.everyThing, .everything(force: true), merge: Work.merge)
                    }
                }
                do {
                    for filter in [discovery.homeAssistantStatusTopic, discovery.configFilter]
                        + discovery.commandFilters
                    {
                        try await inbound.subscribe(filter, qos: 1)
                    }
                } catch {
                    logger.error("Home Assistant: cannot subscribe", metadata: ["error": "\(error)"])
                }
                work.put(Self.everyThing, .everything(force: true), merge: Work.merge)
                logger.info(
                    "announcing things to Home Assistant",
                    metadata: [
                        "homeassistant.discovery_prefix": "\(discovery.discoveryPrefix)",
                        "homeassistant.topic_prefix": "\(discovery.topicPrefix)",
                    ])
                for await message in inbound.messages {
                    await received(message, work: work)
                }
                work.finish()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            inbound.close()
            // A clean disconnect sends no will; this one asks the broker to send it all the same:
            // Home Assistant shows the hub's devices unavailable while it is stopped.
            outbound.close(sendingWill: true)
        }
    }

    // MARK: - In

    func received(_ message: MQTTMessage, work: LatestValues<String, Work>) async {
        if message.topic == discovery.homeAssistantStatusTopic {
            // Home Assistant (re)started: it needs every config again. A flood of these is one
            // pending republish (the queue keeps one entry for it).
            if String(decoding: message.payload, as: UTF8.self) == "online" {
                work.put(Self.everyThing, .everything(force: true), merge: Work.merge)
            }
        } else if discovery.command(topic: message.topic) != nil {
            await command(message, work: work)
        } else if !message.payload.isEmpty, message.topic.hasSuffix("/config") {
            work.put(message.topic, .staleConfig, merge: Work.merge)
        }
    }

    /// A command from Home Assistant: a desired change or a ledger command, decided and audited
    /// as on every path; whatever the outcome, the thing's states are published again, so that
    /// Home Assistant shows what is (a refused unlock: still locked).
    func command(_ message: MQTTMessage, work: LatestValues<String, Work>) async {
        guard let (thing, objectID, field) = discovery.command(topic: message.topic) else { return }
        let identity = message.sender(stampExpected: stampExpected)
        let access = shadows.access
        defer { work.put(thing, .refresh(force: true), merge: Work.merge) }
        guard let type = shadows.registry.deviceType(of: thing),
            let entity = HomeAssistantDiscovery.entities(of: type).first(where: { $0.objectID == objectID })
        else {
            access.audit(
                identity, path: "homeassistant", action: "command", target: thing, result: 404,
                detail: "no Home Assistant entity '\(objectID)' of thing '\(thing)' (\(message.topic))")
            return
        }
        let payload = String(decoding: message.payload.prefix(1024), as: UTF8.self)
        Counter(label: "homehub_homeassistant_commands_total", dimensions: [("component", entity.component)])
            .increment()
        switch HomeAssistantDiscovery.action(for: entity, field: field, payload: payload, type: type) {
        case .desired(let shadow, let values):
            let request: JSONValue = ["state": ["desired": .object(values)], "clientToken": "homeassistant"]
            let answer = await shadows.perform(
                .init(.update, ShadowID(unchecked: thing, shadowName: shadow), payload: request.compactBytes),
                origin: .homeAssistant, by: identity)
            if case .failure(let error) = answer, error.code != 403 {
                logger.warning(
                    "Home Assistant's change was rejected",
                    metadata: ["device.id": "\(thing)", "error": "\(error.code) \(error.message)"])
            }
        case .command(let name, let parameters):
            let result = await commands.create(
                .init(
                    thing: thing, name: name, parameters: parameters, ttlSeconds: nil, timeoutSeconds: nil,
                    idempotencyKey: nil, requester: ["identity": .string(identity.description)], identity: identity,
                    path: "homeassistant"))
            switch result {
            case .success(let (command, _)):
                access.audit(
                    identity, path: "homeassistant", action: "command \(name)", target: thing, result: 201,
                    detail: command.id)
            case .failure(let error):
                // A refusal was audited where it was decided.
                if error.kind != .forbidden {
                    access.audit(
                        identity, path: "homeassistant", action: "command \(name)", target: thing,
                        result: error.kind == .notFound ? 404 : 400, detail: error.message)
                }
            }
        case .invalid(let reason):
            access.audit(
                identity, path: "homeassistant", action: "command", target: thing, result: 400,
                detail: "\(message.topic): \(reason)")
        }
    }

    // MARK: - Out

    func followEvents(_ work: LatestValues<String, Work>) async {
        while !Task.isCancelled {
            let subscription = events.subscribe(thing: nil, watcher: false)
            for await event in subscription.events {
                switch event["type"]?.stringValue {
                case "shadow.updated", "shadow.deleted", "thing.registered", "thing.removed", "thing.gone",
                    "device.connectivity":
                    if let thing = event["thing"]?.stringValue {
                        work.put(thing, .refresh(force: false), merge: Work.merge)
                    }
                case "type.declared":
                    guard let type = event["deviceType"]?.stringValue else { continue }
                    for thing in shadows.registry.things(ofTypes: [type]) {
                        work.put(thing.name, .refresh(force: false), merge: Work.merge)
                    }
                case "plugin.state":
                    guard let plugin = event["plugin"]?.stringValue else { continue }
                    let types = Set(
                        plugins.plugins.first { $0.manifest.id == plugin }?.manifest.deviceTypes.map(\.name) ?? [])
                    for thing in shadows.registry.things(ofTypes: types) {
                        work.put(thing.name, .refresh(force: false), merge: Work.merge)
                    }
                case "subscriber.lagged":
                    // Fell behind: read everything again rather than every step.
                    work.put(Self.everyThing, .everything(force: false), merge: Work.merge)
                default:
                    continue
                }
            }
        }
    }

    /// The worker: the only task that publishes, so the last-published cache is its own.
    func publishLoop(_ work: LatestValues<String, Work>) async {
        var published = Published()
        while let (key, item) = await work.next() {
            switch item {
            case .refresh(let force):
                await refresh(key, force: force, published: &published)
            case .staleConfig:
                if !currentConfigTopics().contains(key) {
                    _ = await publish(key, [], force: true, published: &published)
                }
            case .everything(let force):
                _ = await publish(discovery.statusTopic, Array("online".utf8), force: force, published: &published)
                _ = await publish(
                    discovery.hubConfigTopic, discovery.hubConfig().compactBytes, force: force, published: &published)
                let registered = Set(shadows.registry.all().filter { $0.goneAt == nil }.map(\.name))
                for thing in published.things.keys.sorted() where !registered.contains(thing) {
                    await refresh(thing, force: force, published: &published)
                }
                for thing in registered.sorted() {
                    await refresh(thing, force: force, published: &published)
                }
            }
        }
    }

    /// What this run published last on each topic, and each thing's topics.
    struct Published {
        var payloads: [String: [UInt8]] = [:]
        var things: [String: Set<String>] = [:]
    }

    func currentConfigTopics() -> Set<String> {
        var topics: Set<String> = [discovery.hubConfigTopic]
        for thing in shadows.registry.all() where thing.goneAt == nil {
            guard let type = shadows.registry.deviceType(of: thing.name) else { continue }
            for entity in HomeAssistantDiscovery.entities(of: type) {
                topics.insert(discovery.configTopic(thing.name, entity))
            }
        }
        return topics
    }

    /// Publishes a thing's configs, states and availability; a thing that is gone (or has no
    /// type any more) gets its configs and states cleared (empty retained messages).
    func refresh(_ thing: String, force: Bool, published: inout Published) async {
        var messages: [(String, [UInt8])] = []
        // A thing gone from its bridge leaves Home Assistant as a removed one does.
        if let registration = shadows.registry.thing(thing), registration.goneAt == nil,
            let type = shadows.registry.deviceType(of: thing)
        {
            let plugin = plugins.plugin(providing: type.name)
            let device = HomeAssistantDiscovery.Device(
                thing: thing, type: type, pluginName: plugin?.manifest.name, pluginVersion: plugin?.manifest.version)
            var reported: [String: JSONObject] = [:]
            var connected: Bool?
            for (id, record) in await shadows.shadows(of: registration.name) {
                reported[id.shadowName ?? ""] = record.reported ?? [:]
                if let value = record.reported?["connected"]?.boolValue { connected = value }
            }
            if connected == nil, let plugin, plugin.executablePath != nil {
                connected = await plugins.state(of: plugin.manifest.id) == .running
            }
            for entity in HomeAssistantDiscovery.entities(of: type) {
                messages.append(
                    (discovery.configTopic(thing, entity), discovery.config(entity, of: device).compactBytes))
                if let state = HomeAssistantDiscovery.state(of: entity, reported: reported) {
                    messages.append((discovery.stateTopic(thing, entity), Array(state.utf8)))
                }
            }
            messages.append(
                (discovery.availabilityTopic(thing), Array((connected ?? true ? "online" : "offline").utf8)))
        }
        let topics = Set(messages.map(\.0))
        // Whatever this thing had that it no longer has: cleared.
        for gone in (published.things[thing] ?? []).subtracting(topics).sorted() {
            _ = await publish(gone, [], force: true, published: &published)
            published.payloads[gone] = nil
        }
        published.things[thing] = topics.isEmpty ? nil : topics
        for (topic, payload) in messages {
            _ = await publish(topic, payload, force: force, published: &published)
        }
    }

    /// Publishes a retained message unless the same payload went out last (and not `force`).
    func publish(_ topic: String, _ payload: [UInt8], force: Bool, published: inout Published) async -> Bool {
        if !force, published.payloads[topic] == payload { return true }
        do {
            try await outbound.publish(topic, payload: payload, qos: 1, retain: true)
            published.payloads[topic] = payload.isEmpty ? nil : payload
            return true
        } catch {
            logger.warning("Home Assistant: cannot publish", metadata: ["mqtt.topic": "\(topic)", "error": "\(error)"])
            return false
        }
    }
}

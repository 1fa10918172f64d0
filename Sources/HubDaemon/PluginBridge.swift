import AsyncAlgorithms
import HubCore
import HubPlugins
import HubStore
import Logging
import Metrics

/// The hub's side of the plugin protocol: what `initialize` carries, and what a plugin's
/// reports and events do (they take the same paths as everyone else's).
struct PluginBridge: PluginHostDelegate {
    let shadows: ShadowService
    let events: EventBus
    let logger: Logger
    /// Where `command.progress` and `command.result` go (the command service, in order).
    let commandUpdates: AsyncChannel<CommandUpdate>
    /// Bridges (hub API 2): what they declare and register is stored, cached and told to the broker.
    let store: HubStore
    let declared: DeclaredTypes
    /// Each plugin's manifest types, which no bridge may declare again.
    let manifestTypes: [String: String]
    let brokerAccess: BrokerAccess?
    /// Bridges' declarations and registrations, one at a time (each checks, stores, then caches).
    let serial = OneAtATime()

    /// A device as plugins see it: thing, type, config and its type's shadows with their
    /// durable state.
    static func device(_ thing: ThingRegistration, shadows: ShadowService) async -> JSONValue {
        var shadowStates = JSONObject()
        for shadow in shadows.registry.deviceType(of: thing.name)?.shadows ?? [] {
            let record = await shadows.record(ShadowID(unchecked: thing.name, shadowName: shadow.name))
            let live = record?.exists == true ? record : nil
            shadowStates[shadow.name] = [
                "desired": live?.desired.map(JSONValue.object) ?? [:],
                "reported": live?.reported.map(JSONValue.object) ?? [:],
                "delta": live?.delta.map { .object($0.state) } ?? [:],
                "version": .integer(live?.version ?? 0),
            ]
        }
        return [
            "thing": .string(thing.name), "type": thing.deviceType.map(JSONValue.string) ?? .null,
            "config": .object(thing.config), "shadows": .object(shadowStates),
        ]
    }

    func devices(for plugin: DiscoveredPlugin) async -> [JSONValue] {
        var devices: [JSONValue] = []
        let types = plugin.manifest.deviceTypes.map(\.name) + declared.types(of: plugin.manifest.id).map(\.name)
        for thing in shadows.registry.things(ofTypes: Set(types)) where thing.goneAt == nil {
            devices.append(await Self.device(thing, shadows: shadows))
        }
        return devices
    }

    func report(plugin: String, thing: String, shadow: String?, reported: JSONObject) async -> String? {
        guard let type = shadows.registry.deviceType(of: thing), shadows.registry.owner(of: type.name) == plugin else {
            return "thing '\(thing)' is not a device of plugin '\(plugin)'"
        }
        let id: ShadowID
        do {
            id = try ShadowID(thingName: thing, shadowName: shadow ?? type.primaryShadow)
        } catch {
            return error.message
        }
        let payload: JSONValue = ["state": ["reported": .object(reported)], "clientToken": .string("plugin:\(plugin)")]
        let answer = await shadows.perform(
            .init(.update, id, payload: payload.compactBytes), origin: .plugin(plugin), by: .plugin(plugin))
        if case .failure(let error) = answer { return "\(error.code) \(error.message)" }
        return nil
    }

    func deviceEvent(plugin: String, thing: String?, event: String, data: JSONValue) async {
        events.publish([
            "type": "device.event", "thing": thing.map(JSONValue.string) ?? .null, "event": .string(event),
            "data": data, "plugin": .string(plugin), "time": .integer(shadows.clock.epochSeconds()),
        ])
    }

    func commandUpdate(plugin: String, method: String, params: JSONValue) async {
        guard let update = CommandUpdate(params, thing: nil) else {
            logger.warning("command update without commandId/status", metadata: ["plugin.id": "\(plugin)"])
            return
        }
        await commandUpdates.send(update)
    }

    // MARK: - Bridges (hub API 2; docs/plugins.md)

    func declareTypes(plugin: String, _ types: JSONObject) async -> String? {
        await serial.run {
            for (name, definition) in types.sorted(by: { $0.key < $1.key }) {
                if let owner = manifestTypes[name], owner != plugin {
                    return "device type '\(name)' is plugin '\(owner)''s (its manifest); choose another name"
                }
                if let entry = declared.entry(name), entry.plugin != plugin {
                    return "device type '\(name)' was declared by plugin '\(entry.plugin)'; choose another name"
                }
                if manifestTypes[name] == plugin {
                    return "device type '\(name)' is in the plugin's manifest; declare new types only"
                }
                let type: DeviceType
                do throws(PluginManifest.Failure) {
                    type = try PluginManifest.declaredType(name, definition, source: "types.declare of '\(plugin)'")
                } catch {
                    return error.message
                }
                let previous = declared.entry(name)
                if previous?.definition == definition { continue }
                do {
                    try await store.saveDeclaredType(
                        DeclaredTypeRecord(
                            name: name, plugin: plugin, definition: definition,
                            declaredAt: shadows.clock.epochSeconds()))
                } catch {
                    return "cannot store device type '\(name)': \(error)"
                }
                declared.set(.init(plugin: plugin, type: type, definition: definition))
                shadows.registry.declare(type, owner: plugin)
                brokerAccess?.changed()
                logger.info(
                    "device type declared", metadata: ["plugin.id": "\(plugin)", "device.type": "\(name)"])
                // A type that now guards a shadow withdraws what was asked before the guard.
                for thing in shadows.registry.things(ofTypes: [name]) {
                    await shadows.withdrawUnguardedDesires(of: thing.name, previousType: previous?.type, path: "plugin")
                }
                events.publish(["type": "type.declared", "plugin": .string(plugin), "deviceType": .string(name)])
            }
            return nil
        }
    }

    func registerThing(plugin: String, thing name: String, type: String, config: JSONObject) async -> String? {
        await serial.run {
            do throws(ShadowError) {
                try ShadowNameRules.validateThingName(name, limits: shadows.engine.limits)
            } catch {
                return error.message
            }
            guard shadows.registry.owner(of: type) == plugin else {
                return "device type '\(type)' is not plugin '\(plugin)''s: declare it first (types.declare)"
            }
            let existing = shadows.registry.thing(name)
            if let existing, let existingType = existing.deviceType,
                shadows.registry.owner(of: existingType) != plugin
            {
                return "thing '\(name)' is registered as \(existingType), not a device of plugin '\(plugin)'"
            } else if let existing, existing.deviceType == nil {
                return "thing '\(name)' is registered without a type by someone else; its name is taken"
            }
            if let existing, existing.deviceType == type, existing.config == config, existing.goneAt == nil {
                return nil
            }
            let previousType = shadows.registry.deviceType(of: name)
            let registration = ThingRegistration(
                name: name, deviceType: type, config: config,
                createdAt: existing?.createdAt ?? shadows.clock.epochSeconds())
            do {
                try await store.registerThing(registration)
            } catch {
                return "cannot store thing '\(name)': \(error)"
            }
            shadows.registry.register(registration)
            brokerAccess?.changed()
            await shadows.withdrawUnguardedDesires(of: name, previousType: previousType, path: "plugin")
            shadows.access.audit(
                .plugin(plugin), path: "plugin", action: existing == nil ? "register thing" : "update thing",
                target: name, result: 200, detail: "type \(type)")
            events.publish([
                "type": "thing.registered", "thing": .string(name), "deviceType": .string(type),
                "plugin": .string(plugin),
            ])
            return nil
        }
    }

    func thingGone(plugin: String, thing name: String) async -> String? {
        await serial.run {
            guard let existing = shadows.registry.thing(name), let type = existing.deviceType,
                shadows.registry.owner(of: type) == plugin
            else {
                return "thing '\(name)' is not a device of plugin '\(plugin)'"
            }
            if existing.goneAt != nil { return nil }
            let now = shadows.clock.epochSeconds()
            do {
                try await store.markThingGone(name, at: now)
            } catch {
                return "cannot mark thing '\(name)' gone: \(error)"
            }
            shadows.registry.markGone(name, at: now)
            shadows.access.audit(
                .plugin(plugin), path: "plugin", action: "thing gone", target: name, result: 200,
                detail: "its bridge no longer has it; shadows and history are kept")
            events.publish([
                "type": "thing.gone", "thing": .string(name), "plugin": .string(plugin), "time": .integer(now),
            ])
            return nil
        }
    }

    func pluginStateChanged(plugin: String, state: PluginSupervisor.State) async {
        events.publish([
            "type": "plugin.state", "plugin": .string(plugin), "state": .string(state.rawValue),
            "time": .integer(shadows.clock.epochSeconds()),
        ])
    }

    func pluginRestarted(plugin: String, reason: String) async {
        Counter(label: "homehub_plugin_restarts_total", dimensions: [("plugin", plugin)]).increment()
        events.publish([
            "type": "plugin.restarted", "plugin": .string(plugin), "reason": .string(reason),
            "time": .integer(shadows.clock.epochSeconds()),
        ])
    }
}

/// A device's word on a command: from a plugin's `command.progress`/`command.result`, or an
/// MQTT device's `cmd/THING/response` (`{"commandId", "status", "progress", "message"}`).
struct CommandUpdate: Sendable {
    var id: String
    var thing: String?
    var status: String
    var progress: Double?
    var message: String?
    var result: JSONValue?

    init?(_ params: JSONValue, thing: String?) {
        guard let id = params["commandId"]?.stringValue, let status = params["status"]?.stringValue else { return nil }
        self.id = id
        self.thing = thing
        self.status = status
        self.progress = params["progress"]?.numberValue?.doubleValue
        self.message = params["message"]?.stringValue
        self.result = params["result"]
    }
}

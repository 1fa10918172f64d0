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
        for thing in shadows.registry.things(ofTypes: Set(plugin.manifest.deviceTypes.map(\.name))) {
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

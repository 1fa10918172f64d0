import HubCore
import HubMQTT
import HubPluginKit

#if canImport(Glibc)
    import Glibc
#endif

/// The zigbee2mqtt bridge (docs/zigbee2mqtt.md; hub API 2). A thing of type
/// `zigbee2mqtt-bridge` names a zigbee2mqtt's broker in its config (host, port, ca_file,
/// cert_file, key_file, username, password, base_topic), or `[plugins.zigbee2mqtt]` in hub.toml
/// does (a bridge thing named by its `thing`, default `zigbee2mqtt`); the plugin follows its
/// retained `BASE/bridge/devices`, declares a device type per model from its `exposes`
/// (Exposes.swift), registers a thing per device, and carries state both ways:
///   BASE/FRIENDLY_NAME               → reported state
///   desired (a delta)                → BASE/FRIENDLY_NAME/set
///   BASE/FRIENDLY_NAME/availability  → `connected` (with BASE/bridge/state)
/// A device is followed by its IEEE address: a rename keeps the thing and its history; a device
/// that leaves the bridge is marked gone. Locking and unlocking are ledger commands that
/// succeed when the lock reports `lock_state`; a silent radio lets them time out.
@main
actor Zigbee2MQTTPlugin: DevicePlugin {
    static let bridgeType = "zigbee2mqtt-bridge"

    let host: PluginHost
    var bridges: [String: Bridge] = [:]
    /// Devices by thing name.
    var devices: [String: Known] = [:]
    /// Device types declared in this run, by name.
    var types: [String: ExposedType] = [:]
    /// Deltas that arrived before the device's type was known again (after a restart).
    var waitingDeltas: [String: Delta] = [:]
    /// Lock commands waiting for the lock's word: thing → (command, wanted lock_state).
    var pendingLocks: [String: (id: String, wanted: String)] = [:]

    struct Known {
        var thing: String
        var bridge: String
        var ieee: String
        var friendlyName: String
        var type: String
        var available: Bool?
        var gone = false
    }

    final class Bridge: Sendable {
        let thing: String
        let base: String
        let client: MQTTClient
        let follower: Task<Void, Never>?

        init(thing: String, base: String, client: MQTTClient, follower: Task<Void, Never>?) {
            self.thing = thing
            self.base = base
            self.client = client
            self.follower = follower
        }
    }
    var bridgeOnline: [String: Bool] = [:]

    init(host: PluginHost) {
        self.host = host
    }

    static func main() async {
        await PluginRunner.main(Zigbee2MQTTPlugin.self)
    }

    /// `[plugins.zigbee2mqtt]` in hub.toml: a bridge thing of its own (`thing`, default
    /// `zigbee2mqtt`) with these settings as its config, registered at every start.
    var configuredBridge: Device?

    func configure(settings: JSONObject) async {
        guard !settings.isEmpty else { return }
        var config = settings
        let thing = config.removeValue(forKey: "thing")?.stringValue ?? "zigbee2mqtt"
        configuredBridge = Device(thing: thing, type: Self.bridgeType, config: config)
    }

    func start(devices: [Device]) async {
        for device in devices where device.type != Self.bridgeType {
            remember(device)
        }
        var bridgeDevices = devices.filter { $0.type == Self.bridgeType }
        if let configured = configuredBridge {
            bridgeDevices.removeAll { $0.thing == configured.thing }
            bridgeDevices.append(configured)
            host.registerThing(configured.thing, type: Self.bridgeType, config: configured.config)
        }
        for device in bridgeDevices {
            connect(device)
        }
    }

    func deviceAdded(_ device: Device) async {
        if device.type == Self.bridgeType {
            disconnect(device.thing)
            connect(device)
        } else {
            remember(device)
        }
    }

    func deviceRemoved(thing: String) async {
        disconnect(thing)
        devices[thing] = nil
    }

    /// A device thing the hub knows (its config says where it lives).
    func remember(_ device: Device) {
        guard let bridge = device.config["bridge"]?.stringValue, let ieee = device.config["ieee"]?.stringValue,
            let name = device.config["friendlyName"]?.stringValue
        else { return }
        devices[device.thing] = Known(
            thing: device.thing, bridge: bridge, ieee: ieee, friendlyName: name, type: device.type)
        // What was asked while the plugin was away (a schedule's transition at the hub's start)
        // goes out once the bridge has told the device's type again.
        for (shadow, state) in device.shadows where !state.delta.isEmpty {
            waitingDeltas[device.thing] = Delta(
                thing: device.thing, shadow: shadow, delta: state.delta, desired: state.desired, version: state.version)
        }
    }

    // MARK: - The bridge's broker

    func connect(_ device: Device) {
        let config = device.config
        let host = config["host"]?.stringValue ?? "127.0.0.1"
        let port = Int(config["port"]?.integerValue ?? 1883)
        let base = config["base_topic"]?.stringValue ?? "zigbee2mqtt"
        var options = MQTTClientOptions(
            endpoint: .tcp(host: host, port: port), clientID: "homehub-\(device.thing)-\(getpid())")
        options.username = config["username"]?.stringValue
        options.password = config["password"]?.stringValue
        if let ca = config["ca_file"]?.stringValue {
            options.tls = .init(
                caFile: ca, certFile: config["cert_file"]?.stringValue, keyFile: config["key_file"]?.stringValue)
        }
        options.maxReconnectDelaySeconds = 10
        let client: MQTTClient
        do {
            client = try MQTTClient(options: options)
        } catch {
            self.host.log("bridge \(device.thing): \(error)", level: "error")
            report(bridge: device.thing, ["state": "unreachable"])
            return
        }
        let thing = device.thing
        let follower = Task { await self.follow(bridge: thing, client: client, base: base) }
        bridges[thing] = Bridge(thing: thing, base: base, client: client, follower: follower)
        report(
            bridge: thing, ["state": "connecting", "broker": .string("\(host):\(port)"), "baseTopic": .string(base)])
    }

    func disconnect(_ thing: String) {
        guard let bridge = bridges.removeValue(forKey: thing) else { return }
        bridge.follower?.cancel()
        bridge.client.close()
    }

    /// Connects (retrying), subscribes to BASE/#, and hands every message to the actor in order.
    nonisolated func follow(bridge thing: String, client: MQTTClient, base: String) async {
        var delay = 0.5
        while !Task.isCancelled {
            do {
                try await client.connect()
                break
            } catch {
                await reportUnreachable(thing, "\(error)")
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 10)
            }
        }
        if Task.isCancelled { return }
        do {
            try await client.subscribe("\(base)/#", qos: 1)
        } catch {
            await reportUnreachable(thing, "cannot subscribe to \(base)/#: \(error)")
        }
        for await message in client.messages {
            await handle(message, bridge: thing, base: base)
        }
    }

    func reportUnreachable(_ thing: String, _ reason: String) {
        host.log("bridge \(thing): \(reason)", level: "warning")
        report(bridge: thing, ["state": "unreachable"])
    }

    func report(bridge thing: String, _ values: JSONObject) {
        host.report(thing: thing, shadow: "bridge", values)
    }

    // MARK: - zigbee2mqtt → hub

    func handle(_ message: MQTTMessage, bridge: String, base: String) {
        guard message.topic.hasPrefix(base + "/") else { return }
        let rest = String(message.topic.dropFirst(base.count + 1))
        if rest == "bridge/state" {
            bridgeState(bridge, online: Self.onlineState(message.payload))
        } else if rest == "bridge/devices" {
            if let list = try? JSONParser().parse(message.payload), let entries = list.arrayValue {
                sync(bridge: bridge, entries)
            } else {
                host.log("bridge \(bridge): \(base)/bridge/devices is not a JSON array", level: "warning")
            }
        } else if rest == "bridge/info" {
            if let info = try? JSONParser().parse(message.payload), let version = info["version"]?.stringValue {
                report(bridge: bridge, ["version": .string(version)])
            }
        } else if rest.hasPrefix("bridge/") || rest.hasSuffix("/set") || rest.hasSuffix("/get") {
            return
        } else if rest.hasSuffix("/availability") {
            let name = String(rest.dropLast("/availability".count))
            guard var known = device(bridge: bridge, friendlyName: name) else { return }
            known.available = Self.onlineState(message.payload)
            devices[known.thing] = known
            reportConnectivity(known)
        } else if let known = device(bridge: bridge, friendlyName: rest) {
            guard let state = (try? JSONParser().parse(message.payload))?.objectValue,
                let type = types[known.type]
            else { return }
            let reported = type.reported(from: state)
            if !reported.isEmpty { host.report(thing: known.thing, shadow: type.shadow, reported) }
            settleLock(known.thing, lockState: reported["lock_state"]?.stringValue)
        }
    }

    /// `online` / `{"state": "online"}` (zigbee2mqtt's legacy and JSON forms).
    static func onlineState(_ payload: [UInt8]) -> Bool {
        let text = String(decoding: payload, as: UTF8.self)
        if let json = try? JSONParser().parse(payload), let state = json["state"]?.stringValue {
            return state == "online"
        }
        return text == "online"
    }

    func device(bridge: String, friendlyName: String) -> Known? {
        devices.values.first { $0.bridge == bridge && $0.friendlyName == friendlyName && !$0.gone }
    }

    func bridgeState(_ bridge: String, online: Bool) {
        bridgeOnline[bridge] = online
        report(bridge: bridge, ["state": .string(online ? "online" : "offline")])
        for known in devices.values where known.bridge == bridge && !known.gone {
            reportConnectivity(known)
        }
    }

    /// A device is connected while its bridge is online and it is not unavailable itself.
    func reportConnectivity(_ known: Known) {
        guard let type = types[known.type] else { return }
        let connected = bridgeOnline[known.bridge] != false && known.available != false
        host.report(thing: known.thing, shadow: type.shadow, ["connected": .bool(connected)])
    }

    /// `BASE/bridge/devices`: types declared, things registered (again, when renamed), and
    /// things whose devices left marked gone. Devices are matched by IEEE address.
    func sync(bridge: String, _ entries: [JSONValue]) {
        var seen: Set<String> = []
        var count = 0
        for entry in entries {
            guard entry["type"]?.stringValue != "Coordinator", entry["supported"] != false,
                let ieee = entry["ieee_address"]?.stringValue, let name = entry["friendly_name"]?.stringValue,
                let definition = entry["definition"], definition != .null,
                let type = ExposedType(
                    vendor: definition["vendor"]?.stringValue ?? "unknown",
                    model: definition["model"]?.stringValue ?? "unknown",
                    description: definition["description"]?.stringValue,
                    exposes: definition["exposes"]?.arrayValue ?? [])
            else { continue }
            seen.insert(ieee)
            count += 1
            if types[type.name] != type {
                types[type.name] = type
                host.declareTypes([type.name: type.definition])
            }
            let existing = devices.values.first { $0.bridge == bridge && $0.ieee == ieee }
            let thing = existing?.thing ?? freeThingName(for: name, ieee: ieee)
            defer { if let delta = waitingDeltas.removeValue(forKey: thing) { send(delta) } }
            if let existing, existing.friendlyName == name, existing.type == type.name, !existing.gone {
                continue
            }
            if let existing, existing.friendlyName != name {
                host.log("\(existing.friendlyName) is now \(name) (\(ieee)); thing \(thing) follows it")
            }
            devices[thing] = Known(
                thing: thing, bridge: bridge, ieee: ieee, friendlyName: name, type: type.name,
                available: existing?.available)
            host.registerThing(
                thing, type: type.name,
                config: [
                    "bridge": .string(bridge), "ieee": .string(ieee), "friendlyName": .string(name),
                    "model": definition["model"] ?? .null, "vendor": definition["vendor"] ?? .null,
                ])
        }
        for known in devices.values where known.bridge == bridge && !seen.contains(known.ieee) && !known.gone {
            devices[known.thing]?.gone = true
            host.thingGone(known.thing)
            host.log("\(known.friendlyName) (\(known.ieee)) left the bridge; thing \(known.thing) is marked gone")
        }
        report(bridge: bridge, ["devices": .integer(Int64(count))])
    }

    func freeThingName(for friendlyName: String, ieee: String) -> String {
        let base = thingName(fromFriendlyName: friendlyName)
        guard let holder = devices[base], holder.ieee != ieee else { return base }
        return "\(base)-\(ieee.suffix(6))"
    }

    // MARK: - hub → zigbee2mqtt

    func delta(_ delta: Delta) async {
        guard devices[delta.thing] != nil else { return }
        send(delta)
    }

    func send(_ delta: Delta) {
        guard let known = devices[delta.thing], let type = types[known.type] else {
            waitingDeltas[delta.thing] = delta
            return
        }
        let payload = type.setPayload(from: delta.delta)
        guard !payload.isEmpty else { return }
        publish(known, payload)
    }

    func publish(_ known: Known, _ payload: JSONObject) {
        guard let bridge = bridges[known.bridge] else {
            host.log("bridge \(known.bridge) of \(known.thing) is not connected; not sent", level: "warning")
            return
        }
        let topic = "\(bridge.base)/\(known.friendlyName)/set"
        let client = bridge.client
        let bytes = JSONValue.object(payload).compactBytes
        Task { _ = try? await client.publish(topic, payload: bytes, qos: 1) }
    }

    func check(_ command: CommandRequest) async -> String? {
        guard let known = devices[command.thing], let type = types[known.type], type.isLock else {
            return "\(command.thing) takes no command '\(command.name)' (only a lock takes lock and unlock)"
        }
        if bridgeOnline[known.bridge] == false {
            return "bridge \(known.bridge) is offline: the lock cannot be reached"
        }
        if known.available == false { return "\(known.friendlyName) is unavailable on the bridge" }
        return nil
    }

    func execute(_ command: CommandRequest) async {
        guard let known = devices[command.thing], command.name == "lock" || command.name == "unlock" else {
            host.result(commandID: command.id, .failed, message: "unknown command '\(command.name)'")
            return
        }
        let wanted = command.name == "lock" ? "locked" : "unlocked"
        pendingLocks[command.thing] = (command.id, wanted)
        publish(known, ["state": .string(command.name == "lock" ? "LOCK" : "UNLOCK")])
        host.progress(commandID: command.id, message: "sent to \(known.friendlyName); waiting for lock_state \(wanted)")
    }

    /// The lock said where its bolt is: a waiting command succeeds, fails, or hears that it moves.
    func settleLock(_ thing: String, lockState: String?) {
        guard let lockState, let pending = pendingLocks[thing] else { return }
        if lockState == pending.wanted {
            pendingLocks[thing] = nil
            host.result(commandID: pending.id, .succeeded, message: "the lock reports \(lockState)")
        } else if lockState == "not_fully_locked" {
            pendingLocks[thing] = nil
            host.result(commandID: pending.id, .failed, message: "the lock reports not_fully_locked (jammed?)")
        } else {
            host.progress(commandID: pending.id, message: "the lock reports \(lockState)")
        }
    }

    func cancel(commandID: String) async {
        for (thing, pending) in pendingLocks where pending.id == commandID {
            pendingLocks[thing] = nil
            host.result(commandID: commandID, .failed, message: "canceled")
        }
    }
}

import HubCore
import HubPluginKit

/// The heater plugin. It simulates a room: the temperature moves toward the target while the
/// heater heats and drifts toward the outside temperature otherwise. A real backend would
/// replace `Room` with calls to the heater's controller (see docs/plugins.md).
@main
actor HeaterPlugin: DevicePlugin {
    let host: PluginHost
    var rooms: [String: Room] = [:]
    var ticker: Task<Void, Never>?

    init(host: PluginHost) {
        self.host = host
    }

    static func main() async {
        await PluginRunner.main(HeaterPlugin.self)
    }

    func start(devices: [Device]) async {
        rooms = [:]
        for device in devices { add(device) }
        ticker?.cancel()
        ticker = Task { await self.tickForever() }
    }

    func deviceAdded(_ device: Device) async { add(device) }

    func deviceRemoved(thing: String) async { rooms[thing] = nil }

    func add(_ device: Device) {
        var room = rooms[device.thing] ?? Room(config: device.config)
        room.configure(device.config)
        if let desired = device.shadows["climate"]?.desired { room.apply(desired) }
        rooms[device.thing] = room
        report(device.thing, full: true)
    }

    func delta(_ delta: Delta) async {
        guard var room = rooms[delta.thing] else { return }
        room.apply(delta.desired)
        rooms[delta.thing] = room
        report(delta.thing, full: true)
    }

    func execute(_ command: CommandRequest) async {
        guard command.name == "boost", var room = rooms[command.thing] else {
            host.result(
                commandID: command.id, .failed, message: "unknown command '\(command.name)' for \(command.thing)")
            return
        }
        let duration = command.parameters["durationSeconds"]?.numberValue?.doubleValue ?? 600
        room.boostRemaining = duration
        rooms[command.thing] = room
        report(command.thing, full: true)
        var elapsed = 0.0
        while elapsed < duration {
            if Task.isCancelled || rooms[command.thing]?.boostRemaining ?? 0 <= 0 {
                host.result(commandID: command.id, .failed, message: "boost canceled")
                return
            }
            host.progress(
                commandID: command.id, percent: elapsed / duration * 100,
                message: "boosting, \(Int(duration - elapsed)) s left")
            let step = min(command.heartbeatSeconds, duration - elapsed)
            try? await Task.sleep(for: .milliseconds(Int(step * 1000)))
            elapsed += step
        }
        host.result(commandID: command.id, .succeeded, message: "boosted for \(Int(duration)) s")
    }

    func cancel(commandID: String) async {
        for thing in rooms.keys { rooms[thing]?.boostRemaining = 0 }
    }

    func tickForever() async {
        while !Task.isCancelled {
            let seconds = rooms.values.map(\.tickSeconds).min() ?? 1
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            for thing in rooms.keys {
                guard var room = rooms[thing] else { continue }
                let before = room.reportedState
                room.advance(by: seconds)
                rooms[thing] = room
                if room.reportedState != before { report(thing, full: false) }
            }
        }
    }

    func report(_ thing: String, full: Bool) {
        guard let room = rooms[thing] else { return }
        host.report(thing: thing, shadow: "climate", full ? room.fullState : room.reportedState)
    }
}

/// The simulated room and thermostat: a pure state machine advanced by `advance(by:)`.
struct Room {
    var targetTemperature = 20.0
    var mode = "off"
    var currentTemperature = 18.0
    var outsideTemperature = 10.0
    /// Degrees per minute the heater adds at full power; the room loses toward outside at a fifth of it.
    var degreesPerMinute = 6.0
    var tickSeconds = 1.0
    var boostRemaining = 0.0

    init(config: JSONObject) {
        currentTemperature = config["initialTemperature"]?.numberValue?.doubleValue ?? currentTemperature
        configure(config)
    }

    mutating func configure(_ config: JSONObject) {
        degreesPerMinute = config["degreesPerMinute"]?.numberValue?.doubleValue ?? degreesPerMinute
        tickSeconds = config["tickSeconds"]?.numberValue?.doubleValue ?? tickSeconds
        outsideTemperature = config["outsideTemperature"]?.numberValue?.doubleValue ?? outsideTemperature
    }

    mutating func apply(_ desired: JSONObject) {
        if let target = desired["targetTemperature"]?.numberValue?.doubleValue { targetTemperature = target }
        if let mode = desired["mode"]?.stringValue { self.mode = mode }
    }

    var effectiveTarget: Double? {
        if boostRemaining > 0 { return 30 }
        switch mode {
        case "heat": return targetTemperature
        case "eco": return targetTemperature - 3
        default: return nil
        }
    }

    var heating: Bool {
        guard let target = effectiveTarget else { return false }
        return currentTemperature < target - 0.05
    }

    mutating func advance(by seconds: Double) {
        if heating {
            currentTemperature = min(
                effectiveTarget ?? currentTemperature, currentTemperature + degreesPerMinute / 60 * seconds)
        } else if currentTemperature > outsideTemperature, effectiveTarget.map({ currentTemperature > $0 }) ?? true {
            currentTemperature = max(outsideTemperature, currentTemperature - degreesPerMinute / 300 * seconds)
        }
        boostRemaining = max(0, boostRemaining - seconds)
    }

    var reportedState: JSONObject {
        [
            "currentTemperature": .number(JSONNumber((currentTemperature * 10).rounded() / 10)),
            "heating": .bool(heating),
        ]
    }

    var fullState: JSONObject {
        var state = reportedState
        state["targetTemperature"] = .number(JSONNumber(targetTemperature))
        state["mode"] = .string(mode)
        return state
    }
}

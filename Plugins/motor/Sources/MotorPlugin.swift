import HubCore
import HubPluginKit

/// The motor plugin: a blind or gate moving at `speedPercentPerSecond` (config, default 20)
/// toward the desired position, reporting position, direction and whether it moves.
@main
actor MotorPlugin: DevicePlugin {
    let host: PluginHost
    var motors: [String: Motor] = [:]
    var movements: [String: Task<Bool, Never>] = [:]

    struct Motor {
        var position = 0.0
        var target = 0.0
        var speed = 20.0
        var tickSeconds = 0.25
    }

    init(host: PluginHost) {
        self.host = host
    }

    static func main() async {
        await PluginRunner.main(MotorPlugin.self)
    }

    func start(devices: [Device]) async {
        for device in devices { await deviceAdded(device) }
    }

    func deviceAdded(_ device: Device) async {
        var motor = motors[device.thing] ?? Motor()
        motor.speed = device.config["speedPercentPerSecond"]?.numberValue?.doubleValue ?? motor.speed
        motor.tickSeconds = device.config["tickSeconds"]?.numberValue?.doubleValue ?? motor.tickSeconds
        if motors[device.thing] == nil {
            motor.position =
                device.shadows["position"]?.reported["position"]?.numberValue?.doubleValue
                ?? device.config["initialPosition"]?.numberValue?.doubleValue ?? 0
            motor.target = motor.position
        }
        motors[device.thing] = motor
        report(device.thing)
        if let wanted = device.shadows["position"]?.delta["position"]?.numberValue?.doubleValue {
            startMoving(device.thing, to: wanted, commandID: nil)
        }
    }

    func deviceRemoved(thing: String) async {
        movements[thing]?.cancel()
        motors[thing] = nil
    }

    func delta(_ delta: Delta) async {
        guard let wanted = delta.delta["position"]?.numberValue?.doubleValue else { return }
        startMoving(delta.thing, to: wanted, commandID: nil)
    }

    func execute(_ command: CommandRequest) async {
        switch command.name {
        case "move":
            guard let wanted = command.parameters["position"]?.numberValue?.doubleValue else {
                host.result(commandID: command.id, .failed, message: "move needs a position")
                return
            }
            let reached = await startMoving(command.thing, to: wanted, commandID: command.id).value
            host.result(
                commandID: command.id, reached ? .succeeded : .failed,
                message: reached ? "at \(Int(wanted))%" : "stopped at \(Int(motors[command.thing]?.position ?? 0))%",
                result: ["position": .integer(Int64(motors[command.thing]?.position.rounded() ?? 0))])
        case "stop":
            movements[command.thing]?.cancel()
            host.result(commandID: command.id, .succeeded, message: "stopped")
        default:
            host.result(commandID: command.id, .failed, message: "unknown command '\(command.name)'")
        }
    }

    /// Starts (or redirects) a movement; the task's value says whether the target was reached.
    @discardableResult
    func startMoving(_ thing: String, to target: Double, commandID: String?) -> Task<Bool, Never> {
        movements[thing]?.cancel()
        motors[thing]?.target = min(100, max(0, target))
        let task = Task { await self.run(thing, commandID: commandID) }
        movements[thing] = task
        return task
    }

    func run(_ thing: String, commandID: String?) async -> Bool {
        guard let start = motors[thing] else { return false }
        let distance = abs(start.target - start.position)
        while let motor = motors[thing], motor.position != motor.target {
            if Task.isCancelled {
                report(thing)
                return false
            }
            let step = motor.speed * motor.tickSeconds
            let next =
                motor.target > motor.position
                ? min(motor.target, motor.position + step) : max(motor.target, motor.position - step)
            try? await Task.sleep(for: .milliseconds(Int(motor.tickSeconds * 1000)))
            if Task.isCancelled {
                report(thing)
                return false
            }
            motors[thing]?.position = next
            report(thing)
            if let commandID, distance > 0 {
                let done = (distance - abs(motor.target - next)) / distance * 100
                host.progress(commandID: commandID, percent: done, message: "\(Int(next))%")
            }
        }
        report(thing)
        return true
    }

    func report(_ thing: String) {
        guard let motor = motors[thing] else { return }
        let moving = motor.position != motor.target && movements[thing]?.isCancelled == false
        let direction = !moving ? "stopped" : motor.target > motor.position ? "opening" : "closing"
        host.report(
            thing: thing, shadow: "position",
            [
                "position": .integer(Int64(motor.position.rounded())), "direction": .string(direction),
                "moving": .bool(moving),
            ])
    }
}

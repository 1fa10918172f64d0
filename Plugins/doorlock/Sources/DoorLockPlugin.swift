import HubCore
import HubPluginKit

#if canImport(Glibc)
    import Glibc
#endif

/// The door-lock plugin. The simulated bolt lives in a file in the plugin's state directory,
/// as a real bolt lives in the door: after a restart the plugin reports `unknown` until it has
/// read the bolt back, and never assumes. Config: `moveSeconds` (default 2), `simulateJam`
/// (the next move jams), `readBackSeconds` (default 0.5), `initialState` (default locked).
@main
actor DoorLockPlugin: DevicePlugin {
    let host: PluginHost
    var locks: [String: Lock] = [:]

    struct Lock {
        var config: JSONObject
        var state = "unknown"
        var moving = false
        var moveSeconds: Double { config["moveSeconds"]?.numberValue?.doubleValue ?? 2 }
        var jams: Bool { config["simulateJam"]?.boolValue ?? false }
    }

    init(host: PluginHost) {
        self.host = host
    }

    static func main() async {
        await PluginRunner.main(DoorLockPlugin.self)
    }

    /// Every lock's bolt is read back at once: start-up takes one read-back, not one per lock.
    func start(devices: [Device]) async {
        await withDiscardingTaskGroup { group in
            for device in devices { group.addTask { await self.deviceAdded(device) } }
        }
    }

    func deviceAdded(_ device: Device) async {
        if let lock = locks[device.thing] {
            locks[device.thing]?.config = device.config
            if lock.state == "jammed" && !(device.config["simulateJam"]?.boolValue ?? false) {
                // The simulated jam is cleared by hand: the bolt is back home, locked.
                writeBolt(device.thing, "locked")
                locks[device.thing]?.state = "locked"
                host.report(thing: device.thing, shadow: "lock", Self.reported("locked"))
            }
            return
        }
        locks[device.thing] = Lock(config: device.config)
        host.report(thing: device.thing, shadow: "lock", ["lockState": "unknown"])
        let readBack = device.config["readBackSeconds"]?.numberValue?.doubleValue ?? 0.5
        try? await Task.sleep(for: .milliseconds(Int(readBack * 1000)))
        let bolt = readBolt(device.thing) ?? (device.config["initialState"]?.stringValue ?? "locked")
        writeBolt(device.thing, bolt)
        locks[device.thing]?.state = bolt
        host.report(thing: device.thing, shadow: "lock", Self.reported(bolt))
        if let wanted = device.shadows["lock"]?.delta["lock"]?.stringValue { startMoving(device.thing, to: wanted) }
    }

    func deviceRemoved(thing: String) async { locks[thing] = nil }

    func delta(_ delta: Delta) async {
        guard let wanted = delta.delta["lock"]?.stringValue else { return }
        startMoving(delta.thing, to: wanted)
    }

    /// A desired change moves the bolt beside the message loop: the next message need not wait
    /// the seconds a bolt takes. What the lock then reports says how it went.
    func startMoving(_ thing: String, to target: String) {
        Task { _ = await self.move(thing, to: target, commandID: nil, heartbeat: 1) }
    }

    /// A lock whose bolt is not known, jammed, or already moving cannot take a command.
    func check(_ command: CommandRequest) async -> String? {
        guard let lock = locks[command.thing] else { return "no lock '\(command.thing)'" }
        if lock.moving { return "the lock is already moving" }
        if lock.state == "jammed" { return "the lock is jammed; clear the jam first" }
        if lock.state == "unknown" { return "the lock's state is unknown until it has been read back" }
        return nil
    }

    func execute(_ command: CommandRequest) async {
        let target = command.name == "unlock" ? "unlocked" : command.name == "lock" ? "locked" : nil
        guard let target else {
            host.result(commandID: command.id, .failed, message: "unknown command '\(command.name)'")
            return
        }
        let outcome = await move(command.thing, to: target, commandID: command.id, heartbeat: command.heartbeatSeconds)
        switch outcome {
        case .success:
            host.result(
                commandID: command.id, .succeeded, message: "the lock reports \(target)",
                result: ["lockState": .string(target)])
        case .failure(let reason):
            host.result(
                commandID: command.id, .failed, message: reason.message,
                result: ["lockState": .string(locks[command.thing]?.state ?? "unknown")])
        }
    }

    struct MoveFailure: Error { var message: String }

    /// Moves the bolt; the outcome is what the lock reports afterwards, not what was asked.
    func move(_ thing: String, to target: String, commandID: String?, heartbeat: Double) async -> Result<
        Void, MoveFailure
    > {
        guard var lock = locks[thing] else { return .failure(MoveFailure(message: "no lock '\(thing)'")) }
        if lock.state == target { return .success(()) }
        guard lock.state == "locked" || lock.state == "unlocked" else {
            return .failure(
                MoveFailure(
                    message: "the lock is \(lock.state); it must be read back as locked or unlocked before it moves"))
        }
        guard !lock.moving else { return .failure(MoveFailure(message: "the lock is already moving")) }
        lock.moving = true
        lock.state = target == "locked" ? "locking" : "unlocking"
        locks[thing] = lock
        host.report(thing: thing, shadow: "lock", ["lockState": .string(lock.state)])
        let steps = max(1, Int((lock.moveSeconds / max(heartbeat, 0.05)).rounded(.up)))
        for step in 0..<steps {
            if let commandID {
                host.progress(commandID: commandID, percent: Double(step) / Double(steps) * 100, message: lock.state)
            }
            try? await Task.sleep(for: .milliseconds(Int(lock.moveSeconds / Double(steps) * 1000)))
        }
        let final = lock.jams ? "jammed" : target
        writeBolt(thing, final)
        locks[thing]?.state = final
        locks[thing]?.moving = false
        host.report(thing: thing, shadow: "lock", Self.reported(final))
        if final == "jammed" {
            host.event(thing: thing, "jammed", data: ["wanted": .string(target)])
            return .failure(
                MoveFailure(message: "the bolt jammed while \(target == "locked" ? "locking" : "unlocking")"))
        }
        return .success(())
    }

    /// What the lock reports once the bolt is read: `lockState`, and `lock` (the confirmed
    /// position, which clears the delta) only when the bolt is really locked or unlocked.
    static func reported(_ state: String) -> JSONObject {
        var reported: JSONObject = ["lockState": .string(state)]
        if state == "locked" || state == "unlocked" { reported["lock"] = .string(state) }
        return reported
    }

    func boltFile(_ thing: String) -> String? {
        host.stateDirectory.map { "\($0)/\(thing).bolt" }
    }

    func readBolt(_ thing: String) -> String? {
        guard let path = boltFile(thing), let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, 32, file) != nil else { return nil }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return ["locked", "unlocked", "jammed"].contains(text) ? text : nil
    }

    func writeBolt(_ thing: String, _ state: String) {
        guard let path = boltFile(thing), let file = fopen(path, "w") else { return }
        fputs(state, file)
        fclose(file)
    }
}

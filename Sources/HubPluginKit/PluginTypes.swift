public import HubCore

/// A device the hub gives the plugin: the thing, its type, its configuration and the current
/// state of its type's shadows.
public struct Device: Sendable {
    public var thing: String
    public var type: String
    public var config: JSONObject
    public var shadows: [String: ShadowState]

    public init(thing: String, type: String, config: JSONObject = .empty, shadows: [String: ShadowState] = [:]) {
        self.thing = thing
        self.type = type
        self.config = config
        self.shadows = shadows
    }

    init?(_ value: JSONValue) {
        guard let thing = value["thing"]?.stringValue, let type = value["type"]?.stringValue else { return nil }
        var shadows: [String: ShadowState] = [:]
        for (name, state) in value["shadows"]?.objectValue ?? [:] {
            shadows[name] = ShadowState(
                desired: state["desired"]?.objectValue ?? [:], reported: state["reported"]?.objectValue ?? [:],
                delta: state["delta"]?.objectValue ?? [:], version: state["version"]?.numberValue?.exactInteger ?? 0)
        }
        self.init(thing: thing, type: type, config: value["config"]?.objectValue ?? [:], shadows: shadows)
    }
}

public struct ShadowState: Sendable {
    public var desired: JSONObject
    public var reported: JSONObject
    public var delta: JSONObject
    public var version: Int64

    public init(
        desired: JSONObject = .empty, reported: JSONObject = .empty, delta: JSONObject = .empty, version: Int64 = 0
    ) {
        self.desired = desired
        self.reported = reported
        self.delta = delta
        self.version = version
    }
}

/// A change of desired state the device should act on.
public struct Delta: Sendable {
    public var thing: String
    public var shadow: String
    /// Only what differs from reported.
    public var delta: JSONObject
    /// The whole desired section.
    public var desired: JSONObject
    public var version: Int64

    public init(thing: String, shadow: String, delta: JSONObject, desired: JSONObject, version: Int64) {
        self.thing = thing
        self.shadow = shadow
        self.delta = delta
        self.desired = desired
        self.version = version
    }
}

/// A command the hub asks the device to run (the hub's command ledger tracks it).
public struct CommandRequest: Sendable {
    public var id: String
    public var thing: String
    public var name: String
    public var parameters: JSONObject
    public var heartbeatSeconds: Double
}

public enum CommandOutcome: String, Sendable {
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
}

/// A device-type plugin. Implement the handlers you need; the kit speaks the protocol.
public protocol DevicePlugin: Actor {
    init(host: PluginHost)
    /// The plugin's settings from hub.toml (`[plugins.NAME]`), before `start` (at every (re)start).
    func configure(settings: JSONObject) async
    /// The hub's devices for this plugin, with their current state (at every (re)start).
    func start(devices: [Device]) async
    func deviceAdded(_ device: Device) async
    func deviceRemoved(thing: String) async
    func delta(_ delta: Delta) async
    /// Whether the device can take the command now; a reason refuses it (REJECTED), e.g.
    /// unlock while the lock is jammed. Called before `execute`.
    func check(_ command: CommandRequest) async -> String?
    func execute(_ command: CommandRequest) async
    func cancel(commandID: String) async
}

extension DevicePlugin {
    public func configure(settings: JSONObject) async {}
    public func deviceAdded(_ device: Device) async {}
    public func deviceRemoved(thing: String) async {}
    public func delta(_ delta: Delta) async {}
    public func check(_ command: CommandRequest) async -> String? { nil }
    public func execute(_ command: CommandRequest) async {}
    public func cancel(commandID: String) async {}
}

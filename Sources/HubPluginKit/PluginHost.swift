public import HubCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The plugin's handle on the hub: report state, progress and results, events and logs.
/// Each call writes one JSON-RPC 2.0 line; it is safe from any task.
public final class PluginHost: Sendable {
    let output: @Sendable ([UInt8]) -> Void
    private let nextID = Mutex(0)
    /// A directory the hub gives this plugin for its own state (HOMEHUB_PLUGIN_STATE_DIR).
    public let stateDirectory: String?

    public init(stateDirectory: String? = nil, output: @escaping @Sendable ([UInt8]) -> Void) {
        self.stateDirectory = stateDirectory
        self.output = output
    }

    func send(_ message: JSONObject) {
        var message = message
        message["jsonrpc"] = "2.0"
        output(JSONValue.object(message).compactBytes)
    }

    func notify(_ method: String, _ params: JSONValue) {
        send(["method": .string(method), "params": params])
    }

    /// Reported state of one of the thing's shadows (nil: the type's primary shadow).
    public func report(thing: String, shadow: String? = nil, _ reported: JSONObject) {
        var params: JSONObject = ["thing": .string(thing), "reported": .object(reported)]
        if let shadow { params["shadow"] = .string(shadow) }
        let id = nextID.withLock { id -> Int in
            id += 1
            return id
        }
        // A request, so that the hub answers a rejected report with an error line.
        send(["id": .string("report-\(id)"), "method": "shadow.report", "params": .object(params)])
    }

    /// RUNNING, with progress (0–100) and a message.
    public func progress(commandID: String, percent: Double? = nil, message: String? = nil) {
        var params: JSONObject = ["commandId": .string(commandID), "status": "RUNNING"]
        if let percent { params["progress"] = .number(JSONNumber(percent)) }
        if let message { params["message"] = .string(message) }
        notify("command.progress", .object(params))
    }

    public func result(commandID: String, _ outcome: CommandOutcome, message: String? = nil, result: JSONValue? = nil) {
        var params: JSONObject = ["commandId": .string(commandID), "status": .string(outcome.rawValue)]
        if let message { params["message"] = .string(message) }
        if let result { params["result"] = result }
        notify("command.result", .object(params))
    }

    // MARK: - Bridges (hub API 2: the manifest's hubApi.max must be 2)

    /// Declares device types at run time, `{NAME: definition}` with a manifest's device-type
    /// schema (shadows, attributes, commands, sensitivity). The hub checks them as it checks a
    /// manifest; a refusal comes back as an error line and in the hub's log.
    public func declareTypes(_ types: JSONObject) {
        request("types.declare", ["types": .object(types)])
    }

    /// Adds (or changes) a thing of one of this plugin's types.
    public func registerThing(_ thing: String, type: String, config: JSONObject = .empty) {
        request("things.register", ["thing": .string(thing), "type": .string(type), "config": .object(config)])
    }

    /// Says a thing's device is gone from the bridge: the hub keeps its shadows and marks it gone.
    public func thingGone(_ thing: String) {
        request("things.gone", ["thing": .string(thing)])
    }

    func request(_ method: String, _ params: JSONValue) {
        let id = nextID.withLock { id -> Int in
            id += 1
            return id
        }
        send(["id": .string("\(method)-\(id)"), "method": .string(method), "params": params])
    }

    public func event(thing: String?, _ name: String, data: JSONValue = .null) {
        var params: JSONObject = ["event": .string(name), "data": data]
        if let thing { params["thing"] = .string(thing) }
        notify("device.event", .object(params))
    }

    public func log(_ message: String, level: String = "info") {
        notify("log", ["level": .string(level), "message": .string(message)])
    }
}

import Dispatch
import HubCore
public import HubProcess
import Synchronization

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// Runs a ``DevicePlugin``: reads JSON-RPC lines, calls the plugin's handlers, answers.
public enum PluginRunner {
    /// The entry point of a plugin executable: stdin and stdout are the hub.
    public static func main<Plugin: DevicePlugin>(_ type: Plugin.Type) async {
        QuietDispatch.atStart()
        signal(SIGPIPE, SIG_IGN)
        let lock = Mutex(())
        let directory = getenv("HOMEHUB_PLUGIN_STATE_DIR").map { String(cString: $0) }
        let host = PluginHost(stateDirectory: directory) { bytes in
            lock.withLock { _ in
                var line = bytes
                line.append(0x0A)
                var offset = 0
                while offset < line.count {
                    let written = line[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                    if written <= 0 { if errno == EINTR { continue } else { return } }
                    offset += written
                }
            }
        }
        // stdin is read on its own thread. A ping is answered there and then, so that a plugin
        // busy with a slow start or a device that takes seconds still shows it is alive; all
        // else goes, in order and bounded (the reader waits when 1024 lines wait), to the loop.
        let inbox = ThreadInbox<[UInt8]>(capacity: 1024)
        DispatchQueue(label: "homehub.pluginkit.stdin").async { readInput(0, host: host, into: inbox) }
        await run(Plugin(host: host), host: host, lines: inbox)
        // The hub is gone (end of input) or said shutdown: stop now, whatever still runs.
        exit(0)
    }

    /// Reads the hub's lines from `fd` until it closes (on a thread that may block): a `ping` is
    /// answered at once through `host`, everything else goes to `inbox` in order. Then the inbox
    /// is finished.
    public static func readInput(_ fd: Int32, host: PluginHost, into inbox: ThreadInbox<[UInt8]>) {
        var framer = LineFramer(maxLineBytes: maxLineBytes)
        var buffer = [UInt8](repeating: 0, count: 65536)
        reading: while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            var open = true
            framer.feed(buffer[0..<count]) { event in
                guard open, case .line(let line) = event else { return }  // an over-long line is dropped
                if let id = pingID(line) {
                    host.send(["id": id, "result": "pong"])
                } else {
                    open = inbox.put(line)
                }
            }
            if !open { break reading }
        }
        inbox.finish()
    }

    /// The longest line the kit reads from the hub (the hub's own limit on a plugin's lines).
    public static let maxLineBytes = 1 << 20

    /// The id of a `ping` request, or nil for any other line.
    static func pingID(_ line: [UInt8]) -> JSONValue? {
        // Cheap test first: most lines are not pings.
        guard line.count < 128, let message = try? JSONParser().parse(line), message["method"] == "ping" else {
            return nil
        }
        return message["id"]
    }

    /// Dispatches `lines` to `plugin` until the input ends or the hub says `shutdown`.
    /// Tests drive a plugin in-process with this and a fake host.
    public static func run<Plugin: DevicePlugin, Lines: AsyncSequence<[UInt8], Never>>(
        _ plugin: Plugin, host: PluginHost, lines: Lines
    ) async {
        await withDiscardingTaskGroup { group in
            for await line in lines where !line.isEmpty {
                guard let message = try? JSONParser().parse(line), let method = message["method"]?.stringValue else {
                    continue  // answers to our reports, or noise: nothing to do
                }
                let id = message["id"]
                let params = message["params"] ?? .null
                func reply(_ result: JSONValue) {
                    if let id { host.send(["id": id, "result": result]) }
                }
                switch method {
                case "initialize":
                    await plugin.configure(settings: params["settings"]?.objectValue ?? [:])
                    let devices = (params["devices"]?.arrayValue ?? []).compactMap(Device.init)
                    await plugin.start(devices: devices)
                    reply(["ok": true])
                case "ping":
                    reply("pong")
                case "shutdown":
                    reply(["ok": true])
                    group.cancelAll()
                    return
                case "device.added":
                    if let device = params["device"].flatMap(Device.init) { await plugin.deviceAdded(device) }
                    reply(["ok": true])
                case "device.removed":
                    if let thing = params["thing"]?.stringValue { await plugin.deviceRemoved(thing: thing) }
                    reply(["ok": true])
                case "shadow.delta":
                    if let thing = params["thing"]?.stringValue, let shadow = params["shadow"]?.stringValue {
                        await plugin.delta(
                            Delta(
                                thing: thing, shadow: shadow, delta: params["delta"]?.objectValue ?? [:],
                                desired: params["desired"]?.objectValue ?? [:],
                                version: params["version"]?.numberValue?.exactInteger ?? 0))
                    }
                    reply(["ok": true])
                case "command.execute":
                    guard let commandID = params["commandId"]?.stringValue, let thing = params["thing"]?.stringValue,
                        let name = params["command"]?.stringValue
                    else {
                        if let id {
                            host.send([
                                "id": id,
                                "error": [
                                    "code": -32602, "message": "command.execute needs commandId, thing, command",
                                ],
                            ])
                        }
                        continue
                    }
                    let request = CommandRequest(
                        id: commandID, thing: thing, name: name, parameters: params["parameters"]?.objectValue ?? [:],
                        heartbeatSeconds: params["heartbeatSeconds"]?.numberValue?.doubleValue ?? 5)
                    if let reason = await plugin.check(request) {
                        reply(["accepted": false, "reason": .string(reason)])
                        continue
                    }
                    reply(["accepted": true])
                    // Commands run beside the message loop, so that pings and deltas still flow.
                    group.addTask { await plugin.execute(request) }
                case "command.cancel":
                    if let commandID = params["commandId"]?.stringValue { await plugin.cancel(commandID: commandID) }
                    reply(["ok": true])
                default:
                    if let id {
                        host.send([
                            "id": id, "error": ["code": -32601, "message": .string("unknown method '\(method)'")],
                        ])
                    }
                }
            }
            group.cancelAll()
        }
    }
}

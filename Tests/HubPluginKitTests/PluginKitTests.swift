import HubCore
import HubPluginKit
import Synchronization
import Testing

/// A plugin driven in-process through the kit, against a fake host that records every line.
actor EchoPlugin: DevicePlugin {
    let host: PluginHost
    var started: [String] = []

    init(host: PluginHost) { self.host = host }

    func start(devices: [Device]) async {
        started = devices.map(\.thing)
        for device in devices {
            host.report(thing: device.thing, shadow: "state", device.shadows["state"]?.desired ?? [:])
        }
    }

    func delta(_ delta: Delta) async {
        host.report(thing: delta.thing, shadow: delta.shadow, delta.delta)
    }

    func execute(_ command: CommandRequest) async {
        host.progress(commandID: command.id, percent: 50, message: "half way")
        host.result(commandID: command.id, .succeeded, result: ["echo": .object(command.parameters)])
    }
}

final class FakeHost: Sendable {
    let lines = Mutex<[JSONValue]>([])
    let (input, feed) = AsyncStream.makeStream(of: [UInt8].self)

    var host: PluginHost {
        PluginHost { bytes in self.lines.withLock { $0.append(try! JSONParser().parse(bytes)) } }
    }

    func send(_ message: JSONValue) { feed.yield(message.compactBytes) }

    var recorded: [JSONValue] { lines.withLock { $0 } }
}

struct PluginKitTests {
    @Test func theKitSpeaksTheProtocolForThePlugin() async {
        let fake = FakeHost()
        let host = fake.host
        let plugin = EchoPlugin(host: host)
        fake.send([
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": [
                "devices": [["thing": "lamp", "type": "echo", "shadows": ["state": ["desired": ["on": true]]]]]
            ],
        ])
        fake.send([
            "jsonrpc": "2.0", "method": "shadow.delta",
            "params": ["thing": "lamp", "shadow": "state", "delta": ["level": 3]],
        ])
        fake.send(["jsonrpc": "2.0", "id": 2, "method": "ping"])
        fake.send([
            "jsonrpc": "2.0", "id": 3, "method": "command.execute",
            "params": ["commandId": "c1", "thing": "lamp", "command": "blink", "parameters": ["times": 2]],
        ])
        fake.send(["jsonrpc": "2.0", "id": 4, "method": "nonsense"])
        fake.send(["jsonrpc": "2.0", "id": 5, "method": "shutdown"])
        await PluginRunner.run(plugin, host: host, lines: fake.input)

        let lines = fake.recorded
        #expect(await plugin.started == ["lamp"])
        let reports = lines.filter { $0["method"] == "shadow.report" }.map { $0["params"]?["reported"] }
        #expect(reports == [["on": true], ["level": 3]])
        #expect(lines.contains { $0["id"] == 1 && $0["result"]?["ok"] == true })
        #expect(lines.contains { $0["id"] == 2 && $0["result"] == "pong" })
        #expect(lines.contains { $0["id"] == 4 && $0["error"]?["code"] == -32601 })
        #expect(lines.contains { $0["method"] == "command.progress" && $0["params"]?["status"] == "RUNNING" })
        #expect(
            lines.contains {
                $0["method"] == "command.result" && $0["params"]?["status"] == "SUCCEEDED"
                    && $0["params"]?["result"] == ["echo": ["times": 2]]
            })
        #expect(lines.allSatisfy { $0["jsonrpc"] == "2.0" })
    }
}

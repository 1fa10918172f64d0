import Dispatch
import HubCore
import HubProcess
import HubStore

#if canImport(Glibc)
    import Glibc
#endif

/// `homehub-bench [--quick]`: shadow update throughput through the engine alone and through the
/// engine and the store, with group commit beside one transaction per update, measured in
/// one run on this machine and printed as a table with ratios.
@main
struct Bench {
    static func main() async throws {
        signal(SIGPIPE, SIG_IGN)
        let arguments = CommandLine.arguments.dropFirst()
        let quick = arguments.contains("--quick")
        let parts = arguments.filter { !$0.hasPrefix("--") }
        do {
            if parts.isEmpty || parts.contains("store") { try await storeTable(quick: quick) }
            if parts.isEmpty || parts.contains("schedules") { try ScheduleBench.run(quick: quick) }
            if parts.isEmpty || parts.contains("mqtt") { try await mqttTable(quick: quick) }
            if parts.isEmpty || parts.contains("scale") {
                try await ScaleBench.run(homehubd: sibling("homehubd"), quick: quick)
            }
        } catch {
            print("homehub-bench: \(error)")
            exit(1)
        }
    }

    static func storeTable(quick: Bool) async throws {
        let engineUpdates = quick ? 20_000 : 200_000
        let storeUpdates = quick ? 1_000 : 5_000
        let writers = 64

        var rows: [(String, Int, Double)] = []
        rows.append(("HubCore engine alone (1 shadow)", engineUpdates, engineOnly(updates: engineUpdates)))
        let grouped = try await throughStore(updates: storeUpdates, writers: writers, maxBatchSize: 256)
        let single = try await throughStore(updates: storeUpdates, writers: writers, maxBatchSize: 1)
        rows.append(("engine + store, group commit (\(writers) writers)", storeUpdates, grouped))
        rows.append(("engine + store, 1 transaction/update (\(writers) writers)", storeUpdates, single))

        let baseline = rows[2].2
        print("shadow updates per second (synchronous=FULL, WAL; baseline: one transaction per update)")
        print(pad("path", 58) + pad("updates", 10) + pad("updates/s", 14) + "vs baseline")
        for (name, count, rate) in rows {
            print(pad(name, 58) + pad(String(count), 10) + pad(String(Int(rate)), 14) + format(rate / baseline) + "x")
        }
        print("")
    }

    static func mqttTable(quick: Bool) async throws {
        let directory = Bench.temporaryDirectory("/tmp/homehub-bench-mqtt")
        defer { _ = system("rm -rf '\(directory)'") }
        let homehubd = sibling("homehubd")
        let bench = MQTTBench(
            directory: directory, port: 20_000 + Int(getpid() % 10_000), homehubd: homehubd, quick: quick)
        let all = try await bench.run()
        let plugin = all.filter { $0.name == "plugin convergence" }
        if !plugin.isEmpty {
            print("desired → plugin → reported through the heater plugin (REST desired; reported seen on /v1/events)")
            print(
                pad("path", 28) + pad("things", 8) + pad("changes", 9) + pad("per s", 9) + pad("msgs/s", 9)
                    + pad("p50 ms", 9) + "p99 ms")
            for result in plugin {
                print(
                    pad(result.name, 28) + pad(String(result.things), 8) + pad(String(result.requests), 9)
                        + pad(String(Int(result.perSecond)), 9) + pad(String(Int(result.perSecond * 2)), 9)
                        + pad(format(result.p50), 9) + format(result.p99))
            }
            print("")
        }
        let commands = all.filter { $0.name.hasPrefix("command via") }
        if !commands.isEmpty {
            print("Command round trip, request → SUCCEEDED (one at a time)")
            print(pad("path", 28) + pad("commands", 10) + pad("per s", 9) + pad("p50 ms", 9) + "p99 ms")
            for result in commands {
                print(
                    pad(result.name, 28) + pad(String(result.requests), 10) + pad(String(Int(result.perSecond)), 9)
                        + pad(format(result.p50), 9) + format(result.p99))
            }
            print("")
        }
        let api = all.filter {
            !$0.name.contains("update→accepted") && !$0.name.contains("echo") && $0.name != "plugin convergence"
                && !$0.name.hasPrefix("command via")
        }
        print("Control API over the Unix socket (one connection per request; clients at once)")
        print(
            pad("path", 28) + pad("clients", 9) + pad("requests", 10) + pad("per s", 10) + pad("p50 ms", 9)
                + "p99 ms (hubctl: max)")
        for result in api {
            print(
                pad(result.name, 28) + pad(String(result.things), 9) + pad(String(result.requests), 10)
                    + pad(String(Int(result.perSecond)), 10) + pad(format(result.p50), 9) + format(result.p99))
        }
        print("")
        let results = all.filter { $0.name.contains("update→accepted") || $0.name.contains("echo") }
        print("MQTT round trips over one mosquitto on loopback (QoS 1; window = requests in flight)")
        print(
            pad("path", 28) + pad("things", 8) + pad("window", 8) + pad("requests", 10) + pad("per s", 10)
                + pad("p50 ms", 9) + pad("p99 ms", 9) + "hub/echo")
        for (index, result) in results.enumerated() {
            let ratio = index % 2 == 1 ? format(result.perSecond / results[index - 1].perSecond) + "x" : ""
            print(
                pad(result.name, 28) + pad(String(result.things), 8) + pad(String(result.window), 8)
                    + pad(String(result.requests), 10) + pad(String(Int(result.perSecond)), 10)
                    + pad(format(result.p50), 9) + pad(format(result.p99), 9) + ratio)
        }
        print("")
    }

    /// A product built beside homehub-bench (same build configuration).
    static func sibling(_ name: String) -> String {
        let executable = CommandLine.arguments[0]
        return String(executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)]) + "/" + name
    }

    /// Writes `directory/hub.toml` for a bench hub (data and socket in `directory`, warnings
    /// only) with the given `[mqtt]` lines and the sections after it; returns its path.
    static func writeHubConfig(directory: String, mqtt: String, rest: String) -> String {
        let path = directory + "/hub.toml"
        let text = """
            [hub]
            data_dir = "\(directory)/data"
            socket = "\(directory)/hubctl.sock"
            log_level = "warning"
            [mqtt]
            \(mqtt)
            \(rest)
            """
        _ = FileContents.write(text, to: path, mode: 0o644)
        return path
    }

    /// A new directory `prefix-XXXXXX` (mkdtemp).
    static func temporaryDirectory(_ prefix: String) -> String {
        var template = Array("\(prefix)-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func format(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    static func request(_ index: Int) -> ShadowUpdateRequest {
        let value = JSONValue.integer(Int64(index % 50))
        return index % 2 == 0
            ? ShadowUpdateRequest(desired: ["targetTemperature": value, "mode": "heat"])
            : ShadowUpdateRequest(reported: ["targetTemperature": value, "currentTemperature": 20.5])
    }

    static func engineOnly(updates: Int) -> Double {
        let engine = ShadowEngine()
        var record: ShadowRecord?
        let start = DispatchTime.now().uptimeNanoseconds
        for index in 0..<updates {
            // Through the byte parser, as a request arrives from MQTT.
            let payload = JSONValue.object(["state": request(index).echoedState]).compactBytes
            record = try! engine.update(record, payload: payload, at: Int64(index)).record
        }
        precondition(record?.version == Int64(updates))
        return Double(updates) / seconds(since: start)
    }

    static func throughStore(updates: Int, writers: Int, maxBatchSize: Int) async throws -> Double {
        let directory = temporaryDirectory("/tmp/homehub-bench")
        defer {
            for suffix in ["", "-wal", "-shm"] { unlink(directory + "/hub.db" + suffix) }
            rmdir(directory)
        }
        let store = try HubStore(path: directory + "/hub.db", options: .init(maxBatchSize: maxBatchSize), now: 0)
        defer { store.close() }
        let perWriter = updates / writers
        let start = DispatchTime.now().uptimeNanoseconds
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let engine = ShadowEngine()
                    let id = ShadowID(unchecked: "bench-\(writer)", shadowName: "climate")
                    var record: ShadowRecord?
                    for index in 0..<perWriter {
                        let update = try engine.update(record, request: request(index), at: Int64(index))
                        try await store.saveShadow(id, update.record, replacing: record?.version, at: Int64(index))
                        record = update.record
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(perWriter * writers) / seconds(since: start)
    }
}

import Dispatch
import HubCore
import HubProcess
import HubStore

#if canImport(Glibc)
    import Glibc
#endif

/// Cold start and memory at scale: homehubd (embedded broker) started on a database holding
/// 10,000 registered things with a shadow each and 100,000 finished ledger rows, beside the same
/// hub on an empty database (the baseline): time from exec to a healthy /v1/health, and RSS.
enum ScaleBench {
    static func run(homehubd: String, quick: Bool) async throws {
        let things = quick ? 1_000 : 10_000
        let commands = quick ? 10_000 : 100_000
        var rows: [(String, Double, Int)] = []
        for (label, thingCount, commandCount) in [
            ("empty database (baseline)", 0, 0),
            ("\(things) things + shadows, \(commands) ledger rows", things, commands),
        ] {
            let directory = Bench.temporaryDirectory("/tmp/homehub-bench-scale")
            defer { _ = system("rm -rf '\(directory)'") }
            mkdir(directory + "/data", 0o750)
            try await populate(directory + "/data/hub.db", things: thingCount, commands: commandCount)
            let port = 21_000 + Int(getpid() % 5_000) + thingCount % 7
            let config = Bench.writeHubConfig(
                directory: directory, mqtt: "mode = \"embedded\"\nport = \(port)", rest: "[plugins]\ndirs = []")
            let started = DispatchTime.now().uptimeNanoseconds
            let hub = try ChildProcess(executable: homehubd, arguments: ["--config", config])
            var healthy = false
            for _ in 0..<2400 where !healthy {
                healthy = MQTTBench.healthIsOK(socketPath: directory + "/hubctl.sock")
                if !healthy { try await Task.sleep(for: .milliseconds(5)) }
            }
            let seconds = Bench.seconds(since: started)
            let rss = residentKilobytes(hub.pid)
            _ = await hub.terminate()
            guard healthy else { throw ScaleFailure(description: "homehubd did not become healthy: \(label)") }
            rows.append((label, seconds, rss))
        }
        print("Cold start and memory: homehubd with its embedded broker, exec → /v1/health 200; RSS then")
        print(Bench.pad("database", 48) + Bench.pad("start s", 10) + Bench.pad("RSS MB", 10) + "vs baseline")
        for (label, seconds, rss) in rows {
            print(
                Bench.pad(label, 48) + Bench.pad(Bench.format(seconds), 10)
                    + Bench.pad(Bench.format(Double(rss) / 1024), 10)
                    + "\(Bench.format(seconds / rows[0].1))x time, \(Bench.format(Double(rss) / Double(rows[0].2)))x RSS"
            )
        }
        print("")
    }

    struct ScaleFailure: Error, CustomStringConvertible {
        var description: String
    }

    static func populate(_ path: String, things: Int, commands: Int) async throws {
        let store = try HubStore(path: path, now: 1_800_000_000)
        defer { store.close() }
        let engine = ShadowEngine()
        var last: WriteTicket?
        for index in 0..<things {
            let name = "thing\(index)"
            try await store.registerThing(ThingRegistration(name: name, deviceType: nil, createdAt: 1_800_000_000))
            let payload = JSONValue.object([
                "state": [
                    "desired": ["targetTemperature": 21, "mode": "heat"], "reported": ["targetTemperature": 20.5],
                ]
            ]).compactBytes
            let record = try engine.update(nil, payload: payload, at: 1_800_000_000).record
            last = store.enqueueSaveShadow(
                ShadowID(unchecked: name, shadowName: nil), record, replacing: nil, at: 1_800_000_000)
        }
        for index in 0..<commands {
            var command = Command(
                id: "cmd-bench-\(index)", idempotencyKey: nil, thing: "thing\(index % max(things, 1))", name: "lock",
                parameters: [:], requester: ["user": "bench"], delivery: "plugin", idempotent: true,
                createdAt: 1_800_000_000_000 + Int64(index), ttlMilliseconds: 60_000, timeoutMilliseconds: 30_000,
                heartbeatMilliseconds: 2_000)
            // A finished ledger row, as history is: delivered, then succeeded.
            command.apply(.delivered, at: command.createdAt + 1)
            command.apply(.succeeded(message: "a finished ledger row", result: nil), at: command.createdAt + 2)
            precondition(command.state.isFinal, "the bench's ledger rows must be finished")
            last = store.enqueueSaveCommand(command)
        }
        try await last?.wait()
    }

    static func residentKilobytes(_ pid: Int32) -> Int {
        guard let status = FileContents.text("/proc/\(pid)/status") else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }
}

import Dispatch
import HubClient
import HubCore
import HubMQTT
import HubProcess

#if canImport(Glibc)
    import Glibc
#endif

/// Update → accepted round trips through a real mosquitto and homehubd, beside a raw broker
/// echo (a subscriber that republishes each message) on the same broker in the same run.
struct MQTTBench {
    struct Result {
        var name: String
        var things: Int
        var window: Int
        var requests: Int
        var perSecond: Double
        var p50: Double
        var p99: Double
    }

    let directory: String
    let port: Int
    let homehubd: String
    let quick: Bool

    func run() async throws -> [Result] {
        let broker = try startBroker()
        let hub = try startHub()
        do {
            try await waitForHub()
            let results = try await measure()
            _ = await hub.terminate()
            _ = await broker.terminate()
            return results
        } catch {
            _ = await hub.terminate()
            _ = await broker.terminate()
            throw error
        }
    }

    func measure() async throws -> [Result] {
        let echo = try MQTTClient(options: options("bench-echo"))
        try await connect(echo)
        try await echo.subscribe("bench/req/#")
        let echoTask = Task {
            for await message in echo.messages {
                _ = try? await echo.publish(
                    "bench/resp/" + message.topic.dropFirst("bench/req/".count), payload: message.payload)
            }
        }
        defer {
            echoTask.cancel()
            echo.close()
        }

        var results: [Result] = []
        let requests = quick ? 500 : 3000
        results += try await controlAPI(requests: quick ? 500 : 2000)
        results += try await pluginConvergence(rounds: quick ? 4 : 20)
        results += try await commandRoundTrips(count: quick ? 20 : 100)
        for things in [1, 100, 1000] {
            let window = min(things, 256)
            results.append(
                try await roundTrips(
                    name: "raw broker echo", things: things, window: window, total: requests, echo: true))
            results.append(
                try await roundTrips(
                    name: "homehubd update→accepted", things: things, window: window, total: requests, echo: false))
        }
        return results
    }

    func options(_ clientID: String) -> MQTTClientOptions {
        MQTTClientOptions(endpoint: .tcp(host: "127.0.0.1", port: port), clientID: clientID)
    }

    func connect(_ client: MQTTClient) async throws {
        for _ in 0..<200 {
            do {
                try await client.connect(timeoutSeconds: 2)
                return
            } catch {
                try await Task.sleep(for: .milliseconds(25))
            }
        }
        try await client.connect()
    }

    func startBroker() throws -> ChildProcess {
        let config = directory + "/mosquitto.conf"
        var text = "persistence false\nlog_dest stderr\nlog_type error\nset_tcp_nodelay true\nmax_queued_messages 0\n"
        text += "listener \(port) 127.0.0.1\nallow_anonymous true\n"
        if geteuid() == 0 { text += "user root\n" }
        _ = FileContents.write(text, to: config, mode: 0o644)
        return try ChildProcess(executable: "/usr/sbin/mosquitto", arguments: ["-c", config])
    }

    static let heaters = 50

    /// Stages the heater plugin for the hub when the bench runs from the repository.
    func stageHeater() -> Bool {
        let products = String(homehubd.dropLast("homehubd".count))
        guard access("Plugins/heater/manifest.json", R_OK) == 0, access(products + "homehub-plugin-heater", X_OK) == 0
        else {
            return false
        }
        let gate =
            #"{"id":"bench.gate","name":"gate","version":"1","hubApi":{"min":1,"max":1},"deviceTypes":{"benchgate":{"shadows":[{"name":"gate","attributes":{}}],"commands":{"open":{"timeoutSeconds":10,"heartbeatSeconds":1}}}}}"#
        return system(
            """
            mkdir -p '\(directory)/plugins/heater' '\(directory)/plugins/motor' '\(directory)/plugins/gate' && \
            cp Plugins/heater/manifest.json '\(products)homehub-plugin-heater' '\(directory)/plugins/heater/' && \
            cp Plugins/motor/manifest.json '\(products)homehub-plugin-motor' '\(directory)/plugins/motor/' && \
            echo '\(gate)' > '\(directory)/plugins/gate/manifest.json'
            """) == 0
    }

    func startHub() throws -> ChildProcess {
        var things = ""
        if stageHeater() {
            for index in 0..<Self.heaters {
                things +=
                    "[[things]]\nname = \"bench-heater-\(index)\"\ntype = \"heater\"\nconfig = { tickSeconds = 3600.0 }\n"
            }
            things +=
                "[[things]]\nname = \"bench-motor\"\ntype = \"motor\"\n[[things]]\nname = \"bench-gate\"\ntype = \"benchgate\"\n"
        }
        let config = Bench.writeHubConfig(
            directory: directory, mqtt: "mode = \"external\"\nport = \(port)\nclient_id = \"homehubd-bench\"",
            rest:
                "[plugins]\ndirs = [\"\(directory)/plugins\"]\n[shadows]\nrequests_per_second_per_thing = 0\n\(things)")
        return try ChildProcess(executable: homehubd, arguments: ["--config", config])
    }

    func roundTrips(name: String, things: Int, window: Int, total: Int, echo: Bool) async throws -> Result {
        let client = try MQTTClient(options: options("bench-load-\(echo ? "echo" : "hub")-\(things)"))
        defer { client.close() }
        try await connect(client)
        try await client.subscribe(echo ? "bench/resp/#" : "$aws/things/+/shadow/update/accepted")
        let tag = "\(things)\(echo ? "e" : "h")"

        func send(_ sequence: Int) async throws {
            let thing = "bench-\(sequence % things)"
            let token = "\(tag)-\(sequence)"
            if echo {
                try await client.publish("bench/req/\(thing)", payload: Array(token.utf8))
            } else {
                let payload = #"{"state":{"reported":{"value":\#(sequence),"mode":"heat"}},"clientToken":"\#(token)"}"#
                try await client.publish("$aws/things/\(thing)/shadow/update", payload: Array(payload.utf8))
            }
        }

        var started: [Int: UInt64] = [:]
        var latencies: [Double] = []
        latencies.reserveCapacity(total)
        let begin = DispatchTime.now().uptimeNanoseconds
        var sent = 0
        while sent < min(window, total) {
            started[sent] = DispatchTime.now().uptimeNanoseconds
            try await send(sent)
            sent += 1
        }
        for await message in client.messages {
            let token: String?
            if echo {
                token = String(decoding: message.payload, as: UTF8.self)
            } else {
                token = (try? JSONParser().parse(message.payload))?["clientToken"]?.stringValue
            }
            guard let token, token.hasPrefix(tag + "-"), let sequence = Int(token.dropFirst(tag.count + 1)),
                let start = started.removeValue(forKey: sequence)
            else { continue }
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            if latencies.count == total { break }
            if sent < total {
                started[sent] = DispatchTime.now().uptimeNanoseconds
                try await send(sent)
                sent += 1
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
        latencies.sort()
        return Result(
            name: name, things: things, window: window, requests: total, perSecond: Double(total) / seconds,
            p50: latencies[latencies.count / 2], p99: latencies[min(latencies.count - 1, latencies.count * 99 / 100)])
    }

    /// desired → shadow.delta → plugin → shadow.report → reported, through the heater plugin:
    /// one change at a time (latency), and one change per heater at once (throughput; each
    /// round trip is two plugin messages).
    func pluginConvergence(rounds: Int) async throws -> [Result] {
        guard access(directory + "/plugins/heater/manifest.json", R_OK) == 0 else {
            print("(plugin convergence skipped: run from the repository so that Plugins/heater is found)")
            return []
        }
        let client = ControlClient(socketPath: directory + "/hubctl.sock")
        let (reports, sink) = AsyncStream.makeStream(of: (String, Double, UInt64).self)
        let watcher = Task {
            try await client.stream("/v1/events", onHead: { _ in }) { line in
                guard line.hasPrefix("data: "), let event = try? JSONParser().parse(String(line.dropFirst(6))),
                    event["via"] == "plugin", let thing = event["thing"]?.stringValue,
                    let value = event["state"]?["reported"]?["targetTemperature"]?.numberValue?.doubleValue
                else { return }
                sink.yield((thing, value, DispatchTime.now().uptimeNanoseconds))
            }
        }
        defer { watcher.cancel() }
        var iterator = reports.makeAsyncIterator()
        // Wait until the plugin runs (it has then initialized every heater).
        while true {
            let plugins = try await client.request("GET", "/v1/plugins").json
            if plugins?["plugins"]?.arrayValue?.first(where: { $0["id"] == "homehub.heater" })?["state"] == "running" {
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }

        func change(_ thing: String, to value: Double) async throws {
            let body = Array(#"{"state":{"desired":{"targetTemperature":\#(value)}}}"#.utf8)
            let response = try await client.request("POST", "/things/\(thing)/shadow?name=climate", body: body)
            precondition(response.status == 200, "desired update answered \(response.status): \(response.message)")
        }

        var sequential: [Double] = []
        let sequentialStart = DispatchTime.now().uptimeNanoseconds
        for index in 0..<(rounds * 10) {
            let thing = "bench-heater-\(index % Self.heaters)"
            // Never the value the heater already has (that would make no delta and no report).
            let value = 10 + Double((index / Self.heaters + index) % 20) * 0.5
            let start = DispatchTime.now().uptimeNanoseconds
            try await change(thing, to: value)
            while let (reportedThing, reportedValue, at) = await iterator.next() {
                if reportedThing == thing && reportedValue == value {
                    sequential.append(Double(at - start) / 1e6)
                    break
                }
            }
        }
        let sequentialSeconds = Double(DispatchTime.now().uptimeNanoseconds - sequentialStart) / 1e9

        var batch: [Double] = []
        let batchStart = DispatchTime.now().uptimeNanoseconds
        for round in 0..<rounds {
            let value = 25 + Double(round % 10) * 0.5
            let start = DispatchTime.now().uptimeNanoseconds
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<Self.heaters { group.addTask { try await change("bench-heater-\(index)", to: value) } }
                try await group.waitForAll()
            }
            var pending = Set((0..<Self.heaters).map { "bench-heater-\($0)" })
            while !pending.isEmpty, let (thing, reportedValue, at) = await iterator.next() {
                if reportedValue == value, pending.remove(thing) != nil { batch.append(Double(at - start) / 1e6) }
            }
        }
        let batchSeconds = Double(DispatchTime.now().uptimeNanoseconds - batchStart) / 1e9
        sequential.sort()
        batch.sort()
        return [
            Result(
                name: "plugin convergence", things: 1, window: 1, requests: sequential.count,
                perSecond: Double(sequential.count) / sequentialSeconds, p50: sequential[sequential.count / 2],
                p99: sequential[sequential.count * 99 / 100]),
            Result(
                name: "plugin convergence", things: Self.heaters, window: Self.heaters, requests: batch.count,
                perSecond: Double(batch.count) / batchSeconds, p50: batch[batch.count / 2],
                p99: batch[batch.count * 99 / 100]),
        ]
    }

    /// Command round trips, request → SUCCEEDED: through a plugin (the motor's `stop`, which ends
    /// at once) and through an MQTT device (a client that answers `desired.command` on
    /// `cmd/THING/response` as soon as it sees it). Measured from the POST to the SUCCEEDED event.
    func commandRoundTrips(count: Int) async throws -> [Result] {
        guard access(directory + "/plugins/motor/manifest.json", R_OK) == 0 else { return [] }
        let client = ControlClient(socketPath: directory + "/hubctl.sock")
        let (ends, sink) = AsyncStream.makeStream(of: (String, UInt64).self)
        let watcher = Task {
            try await client.stream("/v1/events", onHead: { _ in }) { line in
                guard line.hasPrefix("data: "), let event = try? JSONParser().parse(String(line.dropFirst(6))),
                    event["type"] == "command.updated", event["state"] == "SUCCEEDED", let id = event["id"]?.stringValue
                else { return }
                sink.yield((id, DispatchTime.now().uptimeNanoseconds))
            }
        }
        defer { watcher.cancel() }
        // The MQTT device: answers every command it finds in its desired state.
        let device = try MQTTClient(options: options("bench-gate-device"))
        defer { device.close() }
        try await connect(device)
        try await device.subscribe("$aws/things/bench-gate/shadow/update/delta")
        let responder = Task {
            var answered = Set<String>()
            for await message in device.messages {
                for entry in (try? JSONParser().parse(message.payload))?["state"]?["command"]?.arrayValue ?? [] {
                    guard let id = entry["commandId"]?.stringValue, answered.insert(id).inserted else { continue }
                    _ = try? await device.publish(
                        "cmd/bench-gate/response", payload: Array(#"{"commandId":"\#(id)","status":"SUCCEEDED"}"#.utf8))
                }
            }
        }
        defer { responder.cancel() }
        while true {
            let plugins = try await client.request("GET", "/v1/plugins").json
            let motor = plugins?["plugins"]?.arrayValue?.first { $0["id"] == "homehub.motor" }
            if motor?["state"] == "running" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        var iterator = ends.makeAsyncIterator()
        var results: [Result] = []
        for (name, thing, command) in [
            ("command via plugin", "bench-motor", "stop"), ("command via MQTT", "bench-gate", "open"),
        ] {
            var latencies: [Double] = []
            let begin = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<count {
                let start = DispatchTime.now().uptimeNanoseconds
                let response = try await client.request(
                    "POST", "/v1/things/\(thing)/commands", body: Array(#"{"command":"\#(command)"}"#.utf8))
                guard let id = response.json?["id"]?.stringValue else {
                    throw MQTTError(code: .closed, message: "command refused: \(response.message)")
                }
                while let (ended, at) = await iterator.next() {
                    if ended == id {
                        latencies.append(Double(at - start) / 1e6)
                        break
                    }
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
            latencies.sort()
            results.append(
                Result(
                    name: name, things: 1, window: 1, requests: latencies.count,
                    perSecond: Double(latencies.count) / seconds,
                    p50: latencies[latencies.count / 2], p99: latencies[latencies.count * 99 / 100]))
        }
        return results
    }

    /// Requests per second over the control socket (one connection per request, as hubctl does),
    /// from one client and from 8 at once, and hubctl's wall time for one command.
    func controlAPI(requests: Int) async throws -> [Result] {
        let client = ControlClient(socketPath: directory + "/hubctl.sock")
        for worker in 0..<8 {
            _ = try await client.request(
                "POST", "/things/api-bench-\(worker)/shadow", body: Array(#"{"state":{"reported":{"v":0}}}"#.utf8))
        }
        var results: [Result] = []
        for (name, method) in [("API shadow get", "GET"), ("API shadow update", "POST")] {
            for clients in [1, 8] {
                var latencies: [Double] = []
                let begin = DispatchTime.now().uptimeNanoseconds
                try await withThrowingTaskGroup(of: [Double].self) { group in
                    for worker in 0..<clients {
                        group.addTask {
                            var local: [Double] = []
                            for index in 0..<(requests / clients) {
                                let start = DispatchTime.now().uptimeNanoseconds
                                let body =
                                    method == "POST"
                                    ? Array(#"{"state":{"reported":{"v":\#(worker * requests + index)}}}"#.utf8) : nil
                                let response = try await client.request(
                                    method, "/things/api-bench-\(worker)/shadow", body: body)
                                precondition(response.status == 200, "\(method) answered \(response.status)")
                                local.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                            }
                            return local
                        }
                    }
                    for try await part in group { latencies += part }
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
                latencies.sort()
                results.append(
                    Result(
                        name: name, things: clients, window: clients, requests: latencies.count,
                        perSecond: Double(latencies.count) / seconds, p50: latencies[latencies.count / 2],
                        p99: latencies[latencies.count * 99 / 100]))
            }
        }
        // hubctl: a whole process per command, start-up included.
        let hubctl = String(homehubd.dropLast("homehubd".count)) + "hubctl"
        var wall: [Double] = []
        for _ in 0..<(quick ? 10 : 40) {
            let start = DispatchTime.now().uptimeNanoseconds
            let devnull = open("/dev/null", O_WRONLY)
            let child = try ChildProcess(
                executable: hubctl, arguments: ["--socket", directory + "/hubctl.sock", "status"],
                standardOutput: devnull)
            close(devnull)
            let exit = await child.waitForExit()
            precondition(exit.status == 0, "hubctl status \(exit)")
            wall.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        wall.sort()
        results.append(
            Result(
                name: "hubctl status (process)", things: 1, window: 1, requests: wall.count,
                perSecond: Double(wall.count) / (wall.reduce(0, +) / 1000), p50: wall[wall.count / 2],
                p99: wall[wall.count - 1]))
        return results
    }

    /// Waits until homehubd reports healthy on its control socket (connected and subscribed).
    func waitForHub() async throws {
        for _ in 0..<400 {
            if Self.healthIsOK(socketPath: directory + "/hubctl.sock") { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw MQTTError(code: .timedOut, message: "homehubd did not become healthy")
    }

    static func healthIsOK(socketPath: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: Array(socketPath.utf8.prefix(buffer.count - 1)) + [0])
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { return false }
        let request = Array("GET /v1/health HTTP/1.0\r\n\r\n".utf8)
        guard write(descriptor, request, request.count) == request.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(descriptor, &buffer, buffer.count)
        return count > 12 && String(decoding: buffer[0..<count], as: UTF8.self).hasPrefix("HTTP/1.0 200")
    }
}

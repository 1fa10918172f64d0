import Foundation
import HubCore
import Testing

/// Runs every vector of ../shared/spec/shadow-vectors.json (kept as a fixture; a test checks the
/// copy against the original when it is beside the project) against the engine, as a harness
/// that speaks MQTT and REST would: each request produces the messages AWS would publish.
struct ShadowVectorTests {
    static let vectors: [JSONValue] = {
        let url = Bundle.module.url(forResource: "shadow-vectors", withExtension: "json", subdirectory: "Fixtures")!
        let data = try! Data(contentsOf: url)
        return try! JSONParser().parse(Array(data)).arrayValue!
    }()

    static let required = vectors.filter { $0["strictness"]?.stringValue == "required" }
        .compactMap { $0["id"]?.stringValue }
    static let others = vectors.filter {
        $0["kind"]?.stringValue != "conventions" && $0["strictness"]?.stringValue != "required"
    }.compactMap { $0["id"]?.stringValue }

    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let sharedVectors = here.appendingPathComponent("../../../shared/spec/shadow-vectors.json")

    /// Skipped, and reported as skipped, where the project's ../shared is not beside the checkout.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: sharedVectors.path), "../shared/spec is not here"))
    func fixtureIsTheSharedSpecData() throws {
        let fixture = Self.here.appendingPathComponent("Fixtures/shadow-vectors.json")
        #expect(try Data(contentsOf: Self.sharedVectors) == Data(contentsOf: fixture))
    }

    @Test func everyRequiredVectorIsPresent() {
        #expect(Self.required.count == 21)
    }

    @Test(arguments: required)
    func requiredVector(_ id: String) throws {
        try run(id)
    }

    @Test(arguments: others)
    func recommendedVector(_ id: String) throws {
        try run(id)
    }

    func run(_ id: String) throws {
        let vector = try #require(Self.vectors.first { $0["id"]?.stringValue == id })
        var harness = VectorHarness(vector: vector)
        for step in vector["steps"]?.arrayValue ?? [] {
            harness.perform(step)
        }
        #expect(harness.problems.isEmpty, "\(id):\n\(harness.problems.joined(separator: "\n"))")
    }
}

struct VectorHarness {
    let engine = ShadowEngine()
    let vectorID: ShadowID
    var records: [ShadowID: ShadowRecord] = [:]
    let start: Int64 = 1_700_000_000
    var now: Int64
    var matcher: VectorMatcher
    var problems: [String] = []

    init(vector: JSONValue) {
        let thing = vector["shadow"]!["thingName"]!.stringValue!
        let shadow = vector["shadow"]!["shadowName"]!.stringValue
        vectorID = try! ShadowID(thingName: thing, shadowName: shadow)
        now = start
        matcher = VectorMatcher(window: start...start)
        if let preload = vector["preload"], preload != .null {
            records[vectorID] = ShadowRecord(
                preloadState: preload["state"], metadata: preload["metadata"],
                version: preload["version"]?.numberValue?.exactInteger ?? 1,
                defaultTimestamp: preload["default_timestamp"]?.numberValue?.exactInteger ?? start)
        }
    }

    mutating func perform(_ step: JSONValue) {
        now += 1
        matcher.window = start...now
        let label = "step \(step["n"]?.description ?? "?")"
        var messages: [String: JSONValue] = [:]
        var http: (status: Int, body: JSONValue)?
        switch step["action"]?.stringValue {
        case "mqtt_publish":
            let payload: [UInt8]
            if let raw = step["payload_raw"]?.stringValue {
                payload = Array(raw.utf8)
            } else if case .string(let text)? = step["payload"], text.isEmpty {
                payload = []
            } else {
                payload = step["payload"]?.compactBytes ?? []
            }
            messages = mqtt(step["topic"]!.stringValue!, id: vectorID, payload: payload)
        case "rest":
            (http, messages) = rest(step["http"]!)
        default:
            problems.append("\(label): unknown action \(step["action"]?.description ?? "nil")")
            return
        }
        if let expectHTTP = step["expect_http"] {
            if let http {
                if http.status != Int(expectHTTP["status"]!.numberValue!.exactInteger!) {
                    problems.append("\(label): HTTP status \(http.status), expected \(expectHTTP["status"]!)")
                }
                let mode: VectorMatcher.Mode = expectHTTP["match"]?.stringValue == "subset" ? .subset : .exact
                if let problem = matcher.mismatch(expected: expectHTTP["body"]!, actual: http.body, mode: mode) {
                    problems.append("\(label) HTTP body: \(problem)")
                }
            } else {
                problems.append("\(label): expected an HTTP answer")
            }
        }
        for expectation in step["expect"]?.arrayValue ?? [] {
            let topic = expectation["topic"]!.stringValue!
            let mode: VectorMatcher.Mode = expectation["match"]?.stringValue == "subset" ? .subset : .exact
            guard let message = messages[topic] else {
                problems.append("\(label): nothing on \(topic); got \(messages.keys.sorted())")
                continue
            }
            if let problem = matcher.mismatch(expected: expectation["payload"]!, actual: message, mode: mode) {
                problems.append("\(label) \(topic): \(problem)")
            }
        }
        for case .string(let topic) in step["expect_no_message"]?.arrayValue ?? [] where messages[topic] != nil {
            problems.append("\(label): unexpected message on \(topic): \(messages[topic]!)")
        }
    }

    /// What the service publishes for one request on `prefix/operation`.
    mutating func mqtt(_ operation: String, id: ShadowID, payload: [UInt8]) -> [String: JSONValue] {
        do throws(ShadowError) {
            switch operation {
            case "update":
                let update = try engine.update(records[id], payload: payload, at: now)
                records[id] = update.record
                var messages = ["update/accepted": update.accepted, "update/documents": update.documents]
                messages["update/delta"] = update.delta
                return messages
            case "get":
                return ["get/accepted": try engine.get(records[id], id: id, payload: payload, at: now)]
            case "delete":
                let deletion = try engine.delete(records[id], id: id, payload: payload, at: now)
                records[id] = deletion.record
                return ["delete/accepted": deletion.accepted]
            default:
                problems.append("unknown topic \(operation)")
                return [:]
            }
        } catch {
            return ["\(operation)/rejected": error.document]
        }
    }

    /// A REST request: the HTTP answer, and the MQTT messages an update also publishes.
    mutating func rest(_ request: JSONValue) -> ((status: Int, body: JSONValue)?, [String: JSONValue]) {
        let path = request["path"]!.stringValue!.split(separator: "/")
        let id = try! ShadowID(thingName: String(path[1]), shadowName: request["query"]?["name"]?.stringValue)
        do throws(ShadowError) {
            switch request["method"]!.stringValue! {
            case "GET":
                return ((200, try engine.get(records[id], id: id, clientToken: nil, at: now)), [:])
            case "POST":
                let update = try engine.update(records[id], payload: request["body"]!.compactBytes, at: now)
                records[id] = update.record
                var messages = ["update/accepted": update.accepted, "update/documents": update.documents]
                messages["update/delta"] = update.delta
                return ((200, update.accepted), messages)
            default:
                let deletion = try engine.delete(records[id], id: id, clientToken: nil, at: now)
                records[id] = deletion.record
                return ((200, deletion.accepted), [:])
            }
        } catch {
            return ((error.code, ["code": .integer(Int64(error.code)), "message": .string(error.message)]), [:])
        }
    }
}

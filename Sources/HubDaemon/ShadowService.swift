public import HubCore
public import HubStore
public import Logging
import Metrics

/// Where the shadow service's messages go (MQTT in the daemon, a recorder in tests).
public protocol ShadowPublisher: Sendable {
    /// Sends (or queues) one message; false when it cannot, with the reason logged.
    @discardableResult
    func publish(_ topic: String, _ document: JSONValue) -> Bool
}

/// The one path every shadow request takes, whoever sends it: rate limit, the engine's rules,
/// the store (acknowledged only once durable), then the messages on MQTT.
///
/// Requests enter through ``begin(_:id:payload:origin:)``, which runs without suspending: the
/// request is checked and applied to the in-memory record and its write is queued, so requests
/// are applied in the order they arrive. ``PendingRequest/finish()`` then waits for the commit
/// outside the actor, letting many writes share a transaction.
public actor ShadowService {
    public enum Origin: Sendable {
        /// A request on the MQTT topics: answers go to accepted/rejected.
        case mqtt
        /// A REST request: the answer is the HTTP response; updates still publish accepted,
        /// delta and documents (as AWS does).
        case rest
        /// A plugin's `shadow.report`: published like a REST update; its delta is not sent
        /// back to the plugin that caused it.
        case plugin
        /// A schedule's firing: published like a REST update.
        case schedule

        /// How events name it.
        var via: String {
            switch self {
            case .mqtt: return "mqtt"
            case .rest: return "api"
            case .plugin: return "plugin"
            case .schedule: return "schedule"
            }
        }
    }

    /// A change whose shadow has a delta, for the plugin that drives the thing.
    public struct DeltaNotice: Sendable {
        public var id: ShadowID
        public var delta: JSONValue
        public var version: Int64
        public var desired: JSONObject
    }

    /// A desired change that did not come from a schedule (a schedule's hold starts from it).
    public struct ManualDesiredChange: Sendable {
        public var id: ShadowID
        public var attributes: Set<String>
    }

    public let engine: ShadowEngine
    nonisolated let store: HubStore
    nonisolated let clock: any HubClock
    let logger: Logger
    let publisher: any ShadowPublisher
    let events: EventBus
    let requireRegisteredThings: Bool
    let deltaSink: @Sendable (DeltaNotice) -> Void
    let manualDesiredSink: @Sendable (ManualDesiredChange) -> Void
    private var records: [ShadowID: ShadowRecord] = [:]
    /// Registered things and their device type (nil: no type).
    private var thingTypes: [String: String?] = [:]
    private var deviceTypes: [String: DeviceType] = [:]
    private var limiter: RateLimiter

    public init(
        store: HubStore, limits: ShadowLimits, requestsPerSecondPerThing: Double, requireRegisteredThings: Bool,
        clock: any HubClock, publisher: any ShadowPublisher, events: EventBus, deviceTypes: [String: DeviceType] = [:],
        deltaSink: @escaping @Sendable (DeltaNotice) -> Void = { _ in },
        manualDesiredSink: @escaping @Sendable (ManualDesiredChange) -> Void = { _ in }, logger: Logger
    ) async throws {
        self.events = events
        self.deltaSink = deltaSink
        self.manualDesiredSink = manualDesiredSink
        self.deviceTypes = deviceTypes
        self.engine = ShadowEngine(limits: limits)
        self.store = store
        self.clock = clock
        self.logger = logger
        self.publisher = publisher
        self.requireRegisteredThings = requireRegisteredThings
        self.limiter = RateLimiter(requestsPerSecond: requestsPerSecondPerThing)
        for (id, record) in try await store.allShadows() { records[id] = record }
        for thing in try await store.things() { thingTypes[thing.name] = .some(thing.deviceType) }
    }

    public var shadowCount: Int { records.values.filter(\.exists).count }

    public func thingRegistered(_ name: String, type: String?) { thingTypes[name] = .some(type) }
    public func thingRemoved(_ name: String) { thingTypes[name] = nil }

    /// The device type of a registered thing, when a loaded plugin declares it.
    public func deviceType(of thing: String) -> DeviceType? {
        guard let type = thingTypes[thing] ?? nil else { return nil }
        return deviceTypes[type]
    }

    /// Registered things of the given device types, with their type names.
    public func things(ofTypes types: Set<String>) -> [(thing: String, type: String)] {
        thingTypes.compactMap { name, type in type.flatMap { types.contains($0) ? (name, $0) : nil } }.sorted {
            $0.thing < $1.thing
        }
    }

    public func record(_ id: ShadowID) -> ShadowRecord? { records[id] }

    /// A request in flight: done already (rejected, or a read) or waiting for its write.
    public struct PendingRequest: Sendable {
        let service: ShadowService
        let id: ShadowID?
        let operation: ShadowTopic.Operation
        let result: Result<Outcome, ShadowError>
        let ticket: WriteTicket?
        let clientToken: String?
        var started: UInt64 = 0

        /// Waits until the change is durable; returns the answer and the messages to publish.
        public func finish() async -> Result<Outcome, ShadowError> {
            guard let ticket, let id else { return result }
            do {
                try await ticket.wait()
                Timer(label: "homehub_shadow_commit_seconds").recordNanoseconds(
                    Int64(service.clock.monotonicNanoseconds() &- started))
                return result
            } catch {
                await service.writeFailed(id, error: error)
                return .failure(ShadowError.internalFailure.withClientToken(clientToken))
            }
        }
    }

    public struct Outcome: Sendable {
        /// accepted document of the operation: the MQTT `…/accepted` payload and the REST body.
        public var accepted: JSONValue
        public var delta: JSONValue?
        public var documents: JSONValue?
        public var record: ShadowRecord?
    }

    /// Largest request payload read at all; larger ones are 413 without being parsed.
    var maxPayloadBytes: Int { max(128 * 1024, engine.limits.maxDocumentBytes * 4) }

    public func begin(_ operation: ShadowTopic.Operation, id: ShadowID, payload: [UInt8]) -> PendingRequest {
        func done(_ result: Result<Outcome, ShadowError>) -> PendingRequest {
            PendingRequest(service: self, id: id, operation: operation, result: result, ticket: nil, clientToken: nil)
        }
        guard limiter.allow(id.thingName, at: clock.monotonicNanoseconds()) else {
            return done(.failure(.tooManyRequests))
        }
        guard !requireRegisteredThings || thingTypes[id.thingName] != nil else {
            return done(.failure(.thingNotFound))
        }
        guard payload.count <= maxPayloadBytes else { return done(.failure(.payloadTooLarge)) }
        let now = clock.epochSeconds()
        let current = records[id]
        do throws(ShadowError) {
            switch operation {
            case .get:
                return done(.success(Outcome(accepted: try engine.get(current, id: id, payload: payload, at: now))))
            case .update:
                let request = try ShadowUpdateRequest(
                    ShadowEngine.parse(payload, limits: engine.limits), limits: engine.limits)
                if case .object(let desired)? = request.desired, let type = deviceType(of: id.thingName) {
                    do {
                        try type.validateDesired(desired, shadow: id.shadowName, thing: id.thingName)
                    } catch {
                        throw error.withClientToken(request.clientToken)
                    }
                }
                let update = try engine.update(current, request: request, at: now)
                records[id] = update.record
                let ticket = store.enqueueSaveShadow(id, update.record, replacing: current?.version, at: now)
                let outcome = Outcome(
                    accepted: update.accepted, delta: update.delta, documents: update.documents, record: update.record)
                return PendingRequest(
                    service: self, id: id, operation: operation, result: .success(outcome), ticket: ticket,
                    clientToken: update.clientToken, started: clock.monotonicNanoseconds())
            case .delete:
                let deletion = try engine.delete(current, id: id, payload: payload, at: now)
                records[id] = deletion.record
                let ticket = store.enqueueSaveShadow(id, deletion.record, replacing: current?.version, at: now)
                return PendingRequest(
                    service: self, id: id, operation: operation, result: .success(Outcome(accepted: deletion.accepted)),
                    ticket: ticket, clientToken: deletion.accepted["clientToken"]?.stringValue,
                    started: clock.monotonicNanoseconds())
            }
        } catch {
            return done(.failure(error))
        }
    }

    /// A write did not commit: what the cache says is not durable, so read the truth back.
    func writeFailed(_ id: ShadowID, error: any Error) async {
        logger.error(
            "shadow write failed; the request was answered 500 and nothing was acknowledged",
            metadata: ["shadow": "\(id.qualifiedName)", "error": "\(error)"])
        records[id] = nil
        if let stored = try? await store.shadow(id) { records[id] = stored }
    }

    /// Publishes `/update/delta` again for every stored shadow that has one. Called at each
    /// (re)connection to the broker: devices whose persistent session outlived a broker crash,
    /// or a hub restart, get the deltas they missed. Read from the store, so only durable state
    /// is announced. Returns how many were published.
    public func republishDeltas() async -> Int {
        let stored: [(id: ShadowID, record: ShadowRecord)]
        do {
            stored = try await store.allShadows()
        } catch {
            logger.error("cannot read the shadows to resend their deltas", metadata: ["error": "\(error)"])
            return 0
        }
        let now = clock.epochSeconds()
        var count = 0
        for (id, record) in stored where record.exists {
            guard let document = ShadowEngine.deltaDocument(record, clientToken: nil, at: now) else { continue }
            // The connection went again (or the hub is stopping): the next connection resends.
            guard publisher.publish("\(id.topicPrefix)/update/delta", document) else { break }
            count += 1
        }
        return count
    }

    /// Handles a request from MQTT end to end, publishing the answers.
    public func handleMQTT(_ topic: ShadowTopic, payload: [UInt8]) -> PendingRequest? {
        do {
            return begin(topic.operation, id: try topic.shadowID(limits: engine.limits), payload: payload)
        } catch {
            Counter(
                label: "homehub_shadow_rejections_total", dimensions: [("code", String(error.code)), ("via", "mqtt")]
            )
            .increment()
            publisher.publish(topic.rejectedTopic, error.document)
            return nil
        }
    }

    /// Publishes what a finished request produced.
    nonisolated public func publish(_ result: Result<Outcome, ShadowError>, of pending: PendingRequest, origin: Origin)
    {
        guard let id = pending.id else { return }
        let prefix = id.topicPrefix
        let operation = pending.operation.rawValue
        let via = origin.via
        switch result {
        case .success where pending.operation != .get:
            Counter(label: "homehub_shadow_changes_total", dimensions: [("operation", operation), ("via", via)])
                .increment()
        case .failure(let error):
            Counter(label: "homehub_shadow_rejections_total", dimensions: [("code", String(error.code)), ("via", via)])
                .increment()
        default:
            break
        }
        switch result {
        case .success(let outcome):
            if pending.operation != .get {
                publishEvent(for: id, operation: pending.operation, outcome: outcome, origin: origin)
            }
            if pending.operation == .update, origin != .schedule,
                case .object(let desired)? = outcome.accepted["state"]?["desired"]
            {
                manualDesiredSink(ManualDesiredChange(id: id, attributes: Set(desired.keys)))
            }
            if origin == .mqtt || pending.operation == .update {
                publisher.publish("\(prefix)/\(operation)/accepted", outcome.accepted)
            }
            if let delta = outcome.delta {
                publisher.publish("\(prefix)/update/delta", delta)
                if origin != .plugin, let record = outcome.record, let state = delta["state"] {
                    deltaSink(
                        DeltaNotice(id: id, delta: state, version: record.version, desired: record.desired ?? [:]))
                }
            }
            if let documents = outcome.documents { publisher.publish("\(prefix)/update/documents", documents) }
        case .failure(let error):
            if origin == .mqtt { publisher.publish("\(prefix)/\(operation)/rejected", error.document) }
        }
    }

    nonisolated func publishEvent(for id: ShadowID, operation: ShadowTopic.Operation, outcome: Outcome, origin: Origin)
    {
        var event: JSONObject = [
            "type": operation == .delete ? "shadow.deleted" : "shadow.updated",
            "thing": .string(id.thingName),
            "shadow": id.shadowName.map(JSONValue.string) ?? .null,
            "version": outcome.accepted["version"] ?? .null,
            "time": outcome.accepted["timestamp"] ?? .null,
            "via": .string(origin.via),
        ]
        if operation == .update {
            event["state"] = outcome.accepted["state"] ?? .null
            event["delta"] = outcome.delta?["state"] ?? .null
            if let token = outcome.accepted["clientToken"] { event["clientToken"] = token }
        }
        events.publish(.object(event))
        // Devices that follow the AWS pattern report `connected` (their last will sets it false).
        if case .bool(let connected)? = outcome.accepted["state"]?["reported"]?["connected"] {
            events.publish([
                "type": "device.connectivity", "thing": .string(id.thingName), "connected": .bool(connected),
                "time": outcome.accepted["timestamp"] ?? .null,
            ])
        }
    }

    /// Live named shadows of a thing, sorted.
    public func namedShadows(of thing: String) -> [String] {
        records.filter { $0.key.thingName == thing && $0.key.shadowName != nil && $0.value.exists }
            .compactMap(\.key.shadowName).sorted()
    }

    public func now() -> Int64 { clock.epochSeconds() }

    /// Every live shadow of a thing (classic first, then named ones by name).
    public func shadows(of thing: String) -> [(id: ShadowID, record: ShadowRecord)] {
        records.filter { $0.key.thingName == thing && $0.value.exists }
            .map { (id: $0.key, record: $0.value) }
            .sorted { ($0.id.shadowName ?? "") < ($1.id.shadowName ?? "") }
    }

    /// Names of the things that have at least one live shadow.
    public func thingsWithShadows() -> Set<String> {
        Set(records.filter { $0.value.exists }.map(\.key.thingName))
    }
}

extension ShadowError {
    func withClientToken(_ token: String?) -> ShadowError {
        var copy = self
        copy.clientToken = token
        return copy
    }
}

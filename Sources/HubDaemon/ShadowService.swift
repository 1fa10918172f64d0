public import HubCore
public import HubStore
public import Logging
import Metrics

/// The one path every shadow request takes, whoever sends it (docs/architecture.md):
/// rate limit → names and registration → the device type's schema → ``ShadowEngine`` → the store
/// → (once durable) the answer and its fan-out: MQTT, the owning plugin, events.
///
/// ``submit(_:origin:)`` runs without suspending: the request is checked and applied to the
/// in-memory head of the shadow and its write is queued, so requests are applied in the order
/// they arrive. ``Submission/answer()`` waits for the commit outside the actor (many writes share
/// a transaction), records what is now durable, fans out and returns the answer. Callers that
/// handle one request at a time use ``perform(_:origin:)``, which is both.
///
/// Two states per shadow: the *head* (every accepted change, the base of the next one) and the
/// *durable* record (what has committed). Reads answer the durable record only, so no client
/// ever sees a version that a crash could take back. When a write fails, the head rolls back to
/// the durable record in the same step; the cache is never empty.
public actor ShadowService {
    /// Who sent a request, named truthfully: events and metrics say `via` this.
    public enum Origin: Sendable, Equatable {
        /// A request on the MQTT topics: answers go to accepted/rejected.
        case mqtt
        /// The control API: the answer is the HTTP response; updates still publish accepted,
        /// delta and documents (as AWS does).
        case api
        /// A plugin's `shadow.report`; its delta is not sent back to the plugin that caused it.
        case plugin(String)
        /// A schedule's firing (its id).
        case schedule(String)
        /// The command ledger writing `desired.command` for an MQTT device.
        case command
        /// Home Assistant's command topics (docs/home-assistant.md).
        case homeAssistant
        /// AWS IoT Core's copy, merged by cloud sync (docs/cloud.md).
        case cloud

        /// A request from outside the hub, held to the per-thing request rate.
        public var isExternal: Bool {
            switch self {
            case .mqtt, .api, .homeAssistant: return true
            case .plugin, .schedule, .command, .cloud: return false
            }
        }

        public var via: String {
            switch self {
            case .mqtt: return "mqtt"
            case .api: return "api"
            case .plugin: return "plugin"
            case .schedule: return "schedule"
            case .command: return "command"
            case .homeAssistant: return "homeassistant"
            case .cloud: return "cloud"
            }
        }
    }

    /// A request: the operation, the shadow, the payload as sent.
    public struct Request: Sendable {
        public var operation: ShadowTopic.Operation
        public var id: ShadowID
        public var payload: [UInt8]

        public init(_ operation: ShadowTopic.Operation, _ id: ShadowID, payload: [UInt8] = []) {
            self.operation = operation
            self.id = id
            self.payload = payload
        }
    }

    public struct Outcome: Sendable {
        /// The accepted document of the operation: the MQTT `…/accepted` payload and the REST body.
        public var accepted: JSONValue
        public var delta: JSONValue?
        public var documents: JSONValue?
        public var record: ShadowRecord?
    }

    public typealias Answer = Result<Outcome, ShadowError>

    public let engine: ShadowEngine
    nonisolated let store: HubStore
    nonisolated let clock: any HubClock
    nonisolated let logger: Logger
    nonisolated let fanOut: ShadowFanOut
    public let registry: ThingRegistry
    /// Who may change what (docs/security.md): asked in `submit`, for every path.
    public nonisolated let access: AccessGate
    let requireRegisteredThings: Bool
    private var head: [ShadowID: Versioned] = [:]
    private var durable: [ShadowID: Versioned] = [:]
    private var nextSequence: UInt64 = 0
    private var limiter: RateLimiter

    /// A record and the sequence number of the write that produced it (0: loaded at start).
    struct Versioned {
        var sequence: UInt64
        var record: ShadowRecord
    }

    public init(
        store: HubStore, limits: ShadowLimits, requestsPerSecondPerThing: Double, requireRegisteredThings: Bool,
        clock: any HubClock, registry: ThingRegistry, access: AccessGate, fanOut: ShadowFanOut, logger: Logger
    ) async throws {
        self.access = access
        self.engine = ShadowEngine(limits: limits)
        self.store = store
        self.clock = clock
        self.logger = logger
        self.fanOut = fanOut
        self.registry = registry
        self.requireRegisteredThings = requireRegisteredThings
        self.limiter = RateLimiter(requestsPerSecond: requestsPerSecondPerThing)
        for (id, record) in try await store.allShadows() {
            head[id] = Versioned(sequence: 0, record: record)
            durable[id] = Versioned(sequence: 0, record: record)
        }
    }

    // MARK: - The path

    /// A request in flight: answered already (a rejection, a read) or waiting for its write.
    public struct Submission: Sendable {
        let service: ShadowService
        let request: Request
        let origin: Origin
        let identity: Identity
        let immediate: Answer?
        let write: Write?
        /// Where a rejection goes on MQTT when the name itself was invalid.
        var rejectedTopic: String?
        /// A change of desired state (or a deletion) that this layer audits once answered: the
        /// desired section as sent (null for a deletion). The control API audits its own requests.
        var audited: JSONValue?

        struct Write: Sendable {
            var ticket: WriteTicket
            var sequence: UInt64
            var record: ShadowRecord
            var outcome: Outcome
            var clientToken: String?
            var started: UInt64
        }

        /// Waits until the change is durable, records it, fans it out, and returns the answer.
        public func answer() async -> Answer {
            let answer: Answer
            if let write {
                answer = await service.settle(request.id, write)
            } else {
                answer = immediate ?? .failure(.internalFailure)
            }
            await service.fanOut.publish(answer, of: request, origin: origin, rejectedTopic: rejectedTopic)
            if let audited {
                service.auditChange(request, identity: identity, origin: origin, answer: answer, desired: audited)
            }
            return answer
        }
    }

    /// Checks and applies a request without suspending; the write (if any) is queued in order.
    /// `identity` is who asks: the same rules hold whatever the path (`origin`).
    public func submit(_ request: Request, origin: Origin, by identity: Identity) -> Submission {
        let id = request.id
        // Not captured by a closure: a mutable capture would be a heap box per request.
        var audited: JSONValue?
        func done(_ answer: Answer) -> Submission {
            Submission(
                service: self, request: request, origin: origin, identity: identity, immediate: answer, write: nil)
        }
        func refused(_ error: ShadowError) -> Submission {
            done(
                .failure(
                    error.with(
                        clientToken:
                            ShadowUpdateRequest.bestEffortClientToken(request.payload, limits: engine.limits))))
        }
        // AWS's per-thing request rate holds for requests from outside (MQTT, the APIs, Home
        // Assistant). The hub's own writers are not refused by it: a plugin's report is the
        // device's truth (plugins have their own flood limit), cloud sync coalesces to one
        // pending merge per shadow, schedules and the ledger write once per event.
        if origin.isExternal, !limiter.allow(id.thingName, at: clock.monotonicNanoseconds()) {
            return refused(.tooManyRequests)
        }
        guard !requireRegisteredThings || registry.isRegistered(id.thingName) else { return refused(.thingNotFound) }
        guard request.payload.count <= maxPayloadBytes else { return done(.failure(.payloadTooLarge)) }
        let now = clock.epochSeconds()
        let current = head[id]?.record
        do throws(ShadowError) {
            switch request.operation {
            case .get:
                let document = try engine.get(durable[id]?.record, id: id, payload: request.payload, at: now)
                return done(.success(Outcome(accepted: document)))
            case .update:
                let update = try ShadowUpdateRequest(
                    ShadowEngine.parse(request.payload, limits: engine.limits), limits: engine.limits)
                if let desired = update.desired {
                    if Self.auditedOrigins(origin) { audited = desired }
                    try authorize(identity, origin: origin, id, desired: desired, clientToken: update.clientToken)
                }
                if case .object(let desired)? = update.desired, let type = registry.deviceType(of: id.thingName) {
                    do {
                        try type.validateDesired(desired, shadow: id.shadowName, thing: id.thingName)
                    } catch {
                        throw error.with(clientToken: update.clientToken)
                    }
                }
                let applied = try engine.update(current, request: update, at: now)
                return queue(
                    request, origin: origin, identity: identity, audited: audited, record: applied.record,
                    replacing: current, at: now,
                    outcome: Outcome(
                        accepted: applied.accepted, delta: applied.delta, documents: applied.documents,
                        record: applied.record), clientToken: applied.clientToken)
            case .delete:
                if Self.auditedOrigins(origin) { audited = .null }
                try authorize(
                    identity, origin: origin, id, desired: nil,
                    clientToken: ShadowUpdateRequest.bestEffortClientToken(request.payload, limits: engine.limits))
                let deletion = try engine.delete(current, id: id, payload: request.payload, at: now)
                return queue(
                    request, origin: origin, identity: identity, audited: audited, record: deletion.record,
                    replacing: current, at: now,
                    outcome: Outcome(accepted: deletion.accepted),
                    clientToken: deletion.accepted["clientToken"]?.stringValue)
            }
        } catch {
            var submission = done(.failure(error))
            submission.audited = audited
            return submission
        }
    }

    /// A request on a shadow topic, whose names may still be invalid.
    public func submit(_ topic: ShadowTopic, payload: [UInt8], origin: Origin, by identity: Identity) -> Submission {
        do {
            return submit(
                Request(topic.operation, try topic.shadowID(limits: engine.limits), payload: payload), origin: origin,
                by: identity)
        } catch {
            let request = Request(topic.operation, ShadowID(unchecked: topic.thingName, shadowName: topic.shadowName))
            var submission = Submission(
                service: self, request: request, origin: origin, identity: identity, immediate: .failure(error),
                write: nil)
            submission.rejectedTopic = topic.rejectedTopic
            return submission
        }
    }

    /// One call, one answer: for callers that handle one request at a time.
    public nonisolated func perform(_ request: Request, origin: Origin, by identity: Identity) async -> Answer {
        await submit(request, origin: origin, by: identity).answer()
    }

    // MARK: - Who may

    /// Paths this layer audits; the control API audits its own requests, the ledger its commands,
    /// and a plugin's reports are the device telling what is.
    static func auditedOrigins(_ origin: Origin) -> Bool {
        switch origin {
        case .mqtt, .schedule, .homeAssistant, .cloud: return true
        case .api, .plugin, .command: return false
        }
    }

    /// Refuses a change of desired state (`desired` nil: a deletion) that `identity` may not make:
    /// a sensitive shadow needs the sensitive role; `desired.command` belongs to the command ledger.
    private func authorize(
        _ identity: Identity, origin: Origin, _ id: ShadowID, desired: JSONValue?, clientToken: String?
    ) throws(ShadowError) {
        let type = registry.deviceType(of: id.thingName)
        var (permission, action) = AccessGate.shadowChange(id, type: type)
        var reason: String?
        if origin != .command, desired?["command"] != nil, type.map({ !$0.commands.isEmpty }) == true {
            reason =
                "\(identity.phrase) may not write desired.command of '\(id.thingName)': the command ledger writes it; request a command instead (hubctl COMMAND \(id.thingName), POST /v1/things/\(id.thingName)/commands)"
            permission = .sensitive
            action = "write desired.command"
        }
        if reason == nil {
            reason = access.refusal(identity, needs: permission, on: id.thingName, action: action)
        }
        guard let reason else { return }
        // The control API logs, counts and audits its own refusals.
        if origin != .api {
            access.refused(
                identity, path: origin.via, action: desired == nil ? "delete shadow" : "update desired",
                target: AccessGate.target(id), reason: reason)
        }
        throw ShadowError(code: 403, message: reason, clientToken: clientToken)
    }

    /// An audit row for a change this layer audits (MQTT, schedules): accepted or refused.
    nonisolated func auditChange(
        _ request: Request, identity: Identity, origin: Origin, answer: Answer, desired: JSONValue
    ) {
        let status: Int
        var detail: String?
        switch answer {
        case .success: status = 200
        case .failure(let error):
            // An access refusal was audited where it was decided.
            if error.code == 403 { return }
            status = error.code
            detail = error.message
        }
        if detail == nil, request.operation == .update { detail = "desired \(String(desired.compactText.prefix(500)))" }
        access.audit(
            identity, path: origin.via, action: request.operation == .delete ? "delete shadow" : "update desired",
            target: AccessGate.target(request.id), result: status, detail: detail)
    }

    private func queue(
        _ request: Request, origin: Origin, identity: Identity, audited: JSONValue?, record: ShadowRecord,
        replacing current: ShadowRecord?, at now: Int64, outcome: Outcome, clientToken: String?
    ) -> Submission {
        nextSequence += 1
        head[request.id] = Versioned(sequence: nextSequence, record: record)
        let ticket = store.enqueueSaveShadow(request.id, record, replacing: current?.version, at: now)
        let write = Submission.Write(
            ticket: ticket, sequence: nextSequence, record: record, outcome: outcome, clientToken: clientToken,
            started: clock.monotonicNanoseconds())
        var submission = Submission(
            service: self, request: request, origin: origin, identity: identity, immediate: nil, write: write)
        submission.audited = audited
        return submission
    }

    /// Waits for the write outside the actor, then records the outcome in one step.
    nonisolated func settle(_ id: ShadowID, _ write: Submission.Write) async -> Answer {
        do {
            try await write.ticket.wait()
            Timer(label: "homehub_shadow_commit_seconds").recordNanoseconds(
                Int64(clock.monotonicNanoseconds() &- write.started))
            await committed(id, write)
            return .success(write.outcome)
        } catch {
            await failed(id, write, error: error)
            return .failure(ShadowError.internalFailure.with(clientToken: write.clientToken))
        }
    }

    private func committed(_ id: ShadowID, _ write: Submission.Write) {
        // Commits complete in order, but their tasks may come back in any order.
        if (durable[id]?.sequence ?? 0) < write.sequence {
            durable[id] = Versioned(sequence: write.sequence, record: write.record)
        }
    }

    /// A write did not commit: nothing was acknowledged. Every later write of this shadow was
    /// based on it and fails too (its expected version is not stored), so the head rolls back to
    /// the durable record when the failed write is the newest one — in this step, never empty.
    private func failed(_ id: ShadowID, _ write: Submission.Write, error: any Error) {
        logger.error(
            "shadow write failed; the request was answered 500 and nothing was acknowledged",
            metadata: ["shadow": "\(id.qualifiedName)", "error": "\(error)"])
        guard head[id]?.sequence == write.sequence else { return }
        head[id] = durable[id]
    }

    /// Largest request payload read at all; larger ones are 413 without being parsed.
    var maxPayloadBytes: Int { max(128 * 1024, engine.limits.maxDocumentBytes * 4) }

    // MARK: - Durable state, for readers

    /// The durable record of a shadow (a deleted one keeps its tombstone).
    public func record(_ id: ShadowID) -> ShadowRecord? { durable[id]?.record }

    public var shadowCount: Int { durable.values.filter(\.record.exists).count }

    /// Every live shadow of a thing (classic first, then named ones by name).
    public func shadows(of thing: String) -> [(id: ShadowID, record: ShadowRecord)] {
        durable.filter { $0.key.thingName == thing && $0.value.record.exists }
            .map { (id: $0.key, record: $0.value.record) }
            .sorted { ($0.id.shadowName ?? "") < ($1.id.shadowName ?? "") }
    }

    /// Live named shadows of a thing, sorted.
    public func namedShadows(of thing: String) -> [String] {
        shadows(of: thing).compactMap(\.id.shadowName)
    }

    /// Every durable shadow that has a delta, for the resend at each broker connection.
    func durableDeltas(at now: Int64) -> [(id: ShadowID, document: JSONValue)] {
        durable.compactMap { id, versioned in
            guard versioned.record.exists,
                let document = ShadowEngine.deltaDocument(versioned.record, clientToken: nil, at: now)
            else { return nil }
            return (id, document)
        }
    }
}

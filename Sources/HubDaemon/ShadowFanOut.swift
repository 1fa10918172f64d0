public import HubCore
import Logging
import Metrics

/// Where the shadow service's messages go (MQTT in the daemon, a recorder in tests).
public protocol ShadowPublisher: Sendable {
    /// Sends (or queues) one message, waiting while the broker's window is full; false when it
    /// cannot, with the reason logged.
    @discardableResult
    func publish(_ topic: String, _ document: JSONValue) async -> Bool
}

/// What a durable change sends out, and to whom: the AWS topics on MQTT, the delta to the plugin
/// that drives the thing, the manual desired change to the scheduler (holds), events to
/// watchers. Runs on the caller's task, after the commit; it suspends only while the broker's
/// window of unacknowledged messages is full (``MQTTClient/publish(_:payload:qos:retain:)``).
public struct ShadowFanOut: Sendable {
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

    let publisher: any ShadowPublisher
    let events: EventBus
    let deltas: LatestValues<ShadowID, DeltaNotice>
    let manualChanges: LatestValues<ShadowID, ManualDesiredChange>

    public init(
        publisher: any ShadowPublisher, events: EventBus, deltas: LatestValues<ShadowID, DeltaNotice>,
        manualChanges: LatestValues<ShadowID, ManualDesiredChange>
    ) {
        self.publisher = publisher
        self.events = events
        self.deltas = deltas
        self.manualChanges = manualChanges
    }

    func publish(
        _ answer: ShadowService.Answer, of request: ShadowService.Request, origin: ShadowService.Origin,
        rejectedTopic: String?
    ) async {
        let id = request.id
        let prefix = id.topicPrefix
        let operation = request.operation.rawValue
        let via = origin.via
        switch answer {
        case .success(let outcome):
            if request.operation != .get {
                Counter(label: "homehub_shadow_changes_total", dimensions: [("operation", operation), ("via", via)])
                    .increment()
                publishEvent(for: id, operation: request.operation, outcome: outcome, origin: origin)
            }
            if request.operation == .update, origin.isManual,
                case .object(let desired)? = outcome.accepted["state"]?["desired"]
            {
                manualChanges.put(id, ManualDesiredChange(id: id, attributes: Set(desired.keys))) { old, new in
                    ManualDesiredChange(id: id, attributes: old.attributes.union(new.attributes))
                }
            }
            // As AWS: an update or a deletion by any path is announced on MQTT; a get only to
            // whoever asked on MQTT.
            if origin == .mqtt || request.operation != .get {
                await publisher.publish("\(prefix)/\(operation)/accepted", outcome.accepted)
            }
            if let delta = outcome.delta {
                await publisher.publish("\(prefix)/update/delta", delta)
                if !origin.isPlugin, let record = outcome.record, let state = delta["state"] {
                    deltas.put(
                        id, DeltaNotice(id: id, delta: state, version: record.version, desired: record.desired ?? [:]))
                }
            }
            if let documents = outcome.documents { await publisher.publish("\(prefix)/update/documents", documents) }
        case .failure(let error):
            Counter(label: "homehub_shadow_rejections_total", dimensions: [("code", String(error.code)), ("via", via)])
                .increment()
            if origin == .mqtt {
                await publisher.publish(rejectedTopic ?? "\(prefix)/\(operation)/rejected", error.document)
            }
        }
    }

    func publishEvent(
        for id: ShadowID, operation: ShadowTopic.Operation, outcome: ShadowService.Outcome,
        origin: ShadowService.Origin
    ) {
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

    /// Publishes `/update/delta` again for every durable shadow that has one. Called at each
    /// (re)connection to the broker: devices whose persistent session outlived a broker crash,
    /// or a hub restart, get the deltas they missed. Returns how many were published.
    func resend(_ deltas: [(id: ShadowID, document: JSONValue)]) async -> Int {
        var count = 0
        for (id, document) in deltas {
            // The connection went again (or the hub is stopping): the next connection resends.
            guard await publisher.publish("\(id.topicPrefix)/update/delta", document) else { break }
            count += 1
        }
        return count
    }
}

extension ShadowService {
    /// See ``ShadowFanOut/resend(_:)``.
    public nonisolated func republishDeltas() async -> Int {
        await fanOut.resend(await durableDeltas(at: clock.epochSeconds()))
    }
}

extension ShadowService {
    /// A newly guarded shadow keeps no desired state from before it was guarded: whoever wrote it
    /// then did not need the sensitive role, so it is withdrawn (the hub's own write, audited).
    /// Called when a thing gets a type (registration) or its type gets a guard (a bridge's
    /// declaration); `previousType` is what guarded it before.
    nonisolated func withdrawUnguardedDesires(of name: String, previousType: DeviceType?, path: String) async {
        guard let type = registry.deviceType(of: name) else { return }
        for shadow in type.sensitiveShadows where previousType?.sensitiveShadows.contains(shadow) != true {
            let id = ShadowID(unchecked: name, shadowName: shadow)
            guard let record = await record(id), record.exists, record.desired != nil else { continue }
            let clear: JSONValue = ["state": ["desired": .null], "clientToken": "hub:guarded"]
            _ = await perform(.init(.update, id, payload: clear.compactBytes), origin: .api, by: .hub)
            access.audit(
                .hub, path: path, action: "withdraw desired", target: AccessGate.target(id), result: 200,
                detail: "desired state written before '\(shadow)' was sensitive is withdrawn")
        }
    }
}

extension ShadowService.Origin {
    /// A person's or device's change, not the hub's own (a schedule's hold starts from it).
    var isManual: Bool {
        switch self {
        case .schedule, .command: return false
        default: return true
        }
    }

    var isPlugin: Bool {
        if case .plugin = self { return true }
        return false
    }
}

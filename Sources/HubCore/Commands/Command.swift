/// The states of a long-running command. Final states never change again.
public enum CommandState: String, Sendable, CaseIterable {
    case queued = "QUEUED"
    case sent = "SENT"
    case running = "RUNNING"
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
    case timedOut = "TIMED_OUT"
    case expired = "EXPIRED"
    case rejected = "REJECTED"
    case canceled = "CANCELED"

    public var isFinal: Bool {
        switch self {
        case .queued, .sent, .running: return false
        default: return true
        }
    }
}

/// One step of a command's history: the state it entered, when, and why.
public struct CommandTransition: Sendable, Equatable {
    public var state: CommandState
    /// Epoch milliseconds.
    public var at: Int64
    public var reason: String
}

/// A command in the ledger. Times are epoch milliseconds from the hub's injected clock.
public struct Command: Sendable, Equatable {
    public var id: String
    public var idempotencyKey: String?
    public var thing: String
    public var name: String
    public var parameters: JSONObject
    /// `{"uid", "user", "pid"}` for a person, `{"schedule": id}` for a schedule.
    public var requester: JSONObject
    /// How it reaches the device: "plugin" or "mqtt".
    public var delivery: String
    public var idempotent: Bool

    public var state: CommandState
    public var createdAt: Int64
    public var updatedAt: Int64
    /// Not delivered by then → EXPIRED.
    public var deliverBy: Int64
    /// The overall limit once delivered.
    public var timeoutMilliseconds: Int64
    public var heartbeatMilliseconds: Int64
    /// Heartbeats that may be missed before the command counts as dead.
    public var allowedMisses: Int64
    public var finishBy: Int64?
    public var heartbeatBy: Int64?

    public var progress: Double?
    public var message: String?
    public var result: JSONValue?
    /// A result that arrived after the command had ended; recorded, never applied.
    public var lateResult: JSONValue?
    public var transitions: [CommandTransition]

    public init(
        id: String, idempotencyKey: String? = nil, thing: String, name: String, parameters: JSONObject = .empty,
        requester: JSONObject = .empty, delivery: String, idempotent: Bool = false, createdAt: Int64,
        ttlMilliseconds: Int64,
        timeoutMilliseconds: Int64, heartbeatMilliseconds: Int64, allowedMisses: Int64 = 3
    ) {
        self.id = id
        self.idempotencyKey = idempotencyKey
        self.thing = thing
        self.name = name
        self.parameters = parameters
        self.requester = requester
        self.delivery = delivery
        self.idempotent = idempotent
        self.state = .queued
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.deliverBy = createdAt + ttlMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.allowedMisses = allowedMisses
        self.transitions = [CommandTransition(state: .queued, at: createdAt, reason: "requested")]
    }

    /// The command's ledger and API form.
    public var json: JSONValue {
        func optional(_ value: Int64?) -> JSONValue { value.map(JSONValue.integer) ?? .null }
        var object: JSONObject = [
            "id": .string(id), "idempotencyKey": idempotencyKey.map(JSONValue.string) ?? .null,
            "thing": .string(thing), "command": .string(name), "parameters": .object(parameters),
            "requester": .object(requester), "delivery": .string(delivery), "idempotent": .bool(idempotent),
            "state": .string(state.rawValue), "createdAt": .integer(createdAt), "updatedAt": .integer(updatedAt),
            "deliverBy": .integer(deliverBy), "timeoutMs": .integer(timeoutMilliseconds),
            "heartbeatMs": .integer(heartbeatMilliseconds), "allowedMisses": .integer(allowedMisses),
            "finishBy": optional(finishBy), "heartbeatBy": optional(heartbeatBy),
            "progress": progress.map { .number(JSONNumber($0)) } ?? .null,
            "message": message.map(JSONValue.string) ?? .null, "result": result ?? .null,
            "transitions": .array(
                transitions.map {
                    ["state": .string($0.state.rawValue), "at": .integer($0.at), "reason": .string($0.reason)]
                }),
        ]
        if let lateResult { object["lateResult"] = lateResult }
        return .object(object)
    }

    public init?(json: JSONValue) {
        func integer(_ key: String) -> Int64? { json[key]?.numberValue?.exactInteger }
        guard let id = json["id"]?.stringValue, let thing = json["thing"]?.stringValue,
            let name = json["command"]?.stringValue, let state = json["state"]?.stringValue.flatMap(CommandState.init),
            let createdAt = integer("createdAt"), let deliverBy = integer("deliverBy")
        else { return nil }
        self.init(
            id: id, idempotencyKey: json["idempotencyKey"]?.stringValue, thing: thing, name: name,
            parameters: json["parameters"]?.objectValue ?? [:], requester: json["requester"]?.objectValue ?? [:],
            delivery: json["delivery"]?.stringValue ?? "plugin", idempotent: json["idempotent"]?.boolValue ?? false,
            createdAt: createdAt, ttlMilliseconds: deliverBy - createdAt,
            timeoutMilliseconds: integer("timeoutMs") ?? 30_000,
            heartbeatMilliseconds: integer("heartbeatMs") ?? 5_000, allowedMisses: integer("allowedMisses") ?? 3)
        self.state = state
        self.updatedAt = integer("updatedAt") ?? createdAt
        self.finishBy = integer("finishBy")
        self.heartbeatBy = integer("heartbeatBy")
        self.progress = json["progress"]?.numberValue?.doubleValue
        self.message = json["message"]?.stringValue
        self.result = json["result"].flatMap { value -> JSONValue? in value.isNull ? Optional.none : value }
        self.lateResult = json["lateResult"]
        self.transitions = (json["transitions"]?.arrayValue ?? []).compactMap { entry in
            guard let state = entry["state"]?.stringValue.flatMap(CommandState.init),
                let at = entry["at"]?.numberValue?.exactInteger
            else { return nil }
            return CommandTransition(state: state, at: at, reason: entry["reason"]?.stringValue ?? "")
        }
    }
}

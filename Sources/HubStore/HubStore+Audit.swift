public import HubCore

/// One line of the audit log: who asked for what change, and what the hub answered.
public struct AuditEntry: Sendable, Equatable {
    public var id: Int64?
    public var time: Int64
    public var uid: UInt32?
    public var user: String?
    public var pid: Int32?
    public var action: String
    public var target: String
    public var result: Int
    public var detail: String?
    /// Who, in the one table of identities: `user:alice`, `application:kitchen`, `device:porch`.
    public var identity: String?
    /// How the request came: api, mqtt, schedule, plugin, command.
    public var path: String?

    public init(
        id: Int64? = nil, time: Int64, uid: UInt32?, user: String?, pid: Int32?, action: String, target: String,
        result: Int, detail: String? = nil, identity: String? = nil, path: String? = nil
    ) {
        self.identity = identity
        self.path = path
        self.id = id
        self.time = time
        self.uid = uid
        self.user = user
        self.pid = pid
        self.action = action
        self.target = target
        self.result = result
        self.detail = detail
    }

    public var json: JSONValue {
        var object: JSONObject = [
            "id": id.map(JSONValue.integer) ?? .null, "time": .integer(time),
            "uid": uid.map { .integer(Int64($0)) } ?? .null, "user": user.map(JSONValue.string) ?? .null,
            "pid": pid.map { .integer(Int64($0)) } ?? .null, "action": .string(action), "target": .string(target),
            "result": .integer(Int64(result)),
        ]
        if let detail { object["detail"] = .string(detail) }
        object["identity"] = identity.map(JSONValue.string) ?? .null
        object["path"] = path.map(JSONValue.string) ?? .null
        return .object(object)
    }
}

extension HubStore {
    public func appendAudit(_ entry: AuditEntry) async throws {
        try await enqueueAudit(entry).wait()
    }

    /// Queues an audit row in the group commit (its order among the other writes is kept).
    @discardableResult
    public func enqueueAudit(_ entry: AuditEntry) -> WriteTicket {
        let ticket = WriteTicket()
        writer.enqueue(
            { database in
                try database.prepare(
                    """
                    INSERT INTO audit (time, uid, user, pid, action, target, result, detail, identity, path)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
                ).run([
                    .integer(entry.time), entry.uid.map { .integer(Int64($0)) } ?? .null,
                    entry.user.map { .text($0) } ?? .null, entry.pid.map { .integer(Int64($0)) } ?? .null,
                    .text(entry.action), .text(entry.target), .integer(Int64(entry.result)),
                    entry.detail.map { .text($0) } ?? .null, entry.identity.map { .text($0) } ?? .null,
                    entry.path.map { .text($0) } ?? .null,
                ])
            }, completion: { ticket.complete($0) })
        return ticket
    }

    /// The newest `limit` entries, oldest first; only those for `target` when given.
    public func auditEntries(limit: Int, target: String? = nil) async throws -> [AuditEntry] {
        try await read { database in
            let statement = try database.prepare(
                """
                SELECT id, time, uid, user, pid, action, target, result, detail, identity, path FROM audit
                WHERE ?1 IS NULL OR target = ?1 OR target LIKE ?1 || '/%'
                ORDER BY id DESC LIMIT ?2
                """)
            try statement.bind([target.map { .text($0) } ?? .null, .integer(Int64(limit))])
            var entries: [AuditEntry] = []
            while try statement.step() {
                entries.append(
                    AuditEntry(
                        id: statement.int64(at: 0), time: statement.int64(at: 1),
                        uid: statement.isNull(at: 2) ? nil : UInt32(statement.int64(at: 2)),
                        user: statement.string(at: 3),
                        pid: statement.isNull(at: 4) ? nil : Int32(statement.int64(at: 4)),
                        action: statement.string(at: 5) ?? "", target: statement.string(at: 6) ?? "",
                        result: Int(statement.int64(at: 7)), detail: statement.string(at: 8),
                        identity: statement.string(at: 9), path: statement.string(at: 10)))
            }
            return entries.reversed()
        }
    }
}

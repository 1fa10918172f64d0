public import HubCore

extension HubStore {
    /// Queues the command's current form for writing (in call order); the ticket says when durable.
    public func enqueueSaveCommand(_ command: Command) -> WriteTicket {
        let ticket = WriteTicket()
        let document = command.json.compactText
        writer.enqueue(
            { database in
                try database.prepare(
                    """
                    INSERT INTO commands (id, idempotency_key, thing, state, created_at, updated_at, document)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at,
                        document = excluded.document
                    """
                ).run([
                    .text(command.id), command.idempotencyKey.map { .text($0) } ?? .null, .text(command.thing),
                    .text(command.state.rawValue), .integer(command.createdAt), .integer(command.updatedAt),
                    .text(document),
                ])
            }, completion: { ticket.complete($0) })
        return ticket
    }

    public func saveCommand(_ command: Command) async throws {
        try await enqueueSaveCommand(command).wait()
    }

    /// Commands, newest first, optionally of one thing and/or in one state.
    public func commands(thing: String? = nil, state: String? = nil, limit: Int = 100) async throws -> [Command] {
        try await read { database in
            let statement = try database.prepare(
                """
                SELECT document FROM commands WHERE (?1 IS NULL OR thing = ?1) AND (?2 IS NULL OR state = ?2)
                ORDER BY created_at DESC, id DESC LIMIT ?3
                """)
            try statement.bind([
                thing.map { .text($0) } ?? .null, state.map { .text($0) } ?? .null, .integer(Int64(limit)),
            ])
            var result: [Command] = []
            while try statement.step() { result.append(try Self.decodeCommand(statement.string(at: 0))) }
            return result
        }
    }

    public func command(id: String) async throws -> Command? {
        try await commandWhere("id = ?", id)
    }

    public func command(idempotencyKey: String) async throws -> Command? {
        try await commandWhere("idempotency_key = ?", idempotencyKey)
    }

    func commandWhere(_ condition: String, _ value: String) async throws -> Command? {
        try await read { database in
            let statement = try database.prepare("SELECT document FROM commands WHERE \(condition)")
            try statement.bind([.text(value)])
            guard try statement.step() else { return nil }
            return try Self.decodeCommand(statement.string(at: 0))
        }
    }

    /// Commands not in a final state, oldest first (recovery at start).
    public func activeCommands() async throws -> [Command] {
        try await read { database in
            let statement = try database.prepare(
                "SELECT document FROM commands WHERE state IN ('QUEUED', 'SENT', 'RUNNING') ORDER BY created_at, id")
            var result: [Command] = []
            while try statement.step() { result.append(try Self.decodeCommand(statement.string(at: 0))) }
            return result
        }
    }

    /// A ledger row, or an error naming it: an unreadable row is a damaged store, said as loudly
    /// as an unreadable shadow, never skipped.
    static func decodeCommand(_ text: String?) throws -> Command {
        guard let text, let document = try? JSONParser().parse(text), let command = Command(json: document) else {
            let id = text.flatMap { try? JSONParser().parse($0) }?["id"]?.stringValue ?? "(no id)"
            throw SQLiteError(
                code: .init(rawValue: 11),
                message: "command \(id) has an unreadable ledger row; restore the database from a backup")
        }
        return command
    }

    /// How many commands the ledger holds.
    public func commandCount() async throws -> Int {
        try await read { Int(try $0.scalar("SELECT COUNT(*) FROM commands") ?? 0) }
    }
}

public import HubCore

extension HubStore {
    /// Raised when the stored version is not the one the caller based its change on: another
    /// writer got there first, or an earlier write failed. Nothing was written.
    public struct StaleShadowError: Error, CustomStringConvertible, Sendable {
        public var id: ShadowID
        public var expectedVersion: Int64?
        public var description: String {
            "shadow '\(id.qualifiedName)' is no longer at version \(expectedVersion.map(String.init) ?? "(none)")"
        }
    }

    /// The stored record (a deleted shadow keeps a tombstone with its last version).
    public func shadow(_ id: ShadowID) async throws -> ShadowRecord? {
        try await read { database in
            let statement = try database.prepare(
                "SELECT document, deleted FROM shadows WHERE thing = ? AND shadow = ?")
            try statement.bind([.text(id.thingName), .text(id.shadowName ?? "")])
            guard try statement.step() else { return nil }
            return try Self.decode(statement.string(at: 0), deleted: statement.int64(at: 1) != 0, id: id)
        }
    }

    /// Every stored record, tombstones included.
    public func allShadows() async throws -> [(id: ShadowID, record: ShadowRecord)] {
        try await read { database in
            let statement = try database.prepare("SELECT thing, shadow, document, deleted FROM shadows")
            var result: [(id: ShadowID, record: ShadowRecord)] = []
            while try statement.step() {
                let shadow = statement.string(at: 1) ?? ""
                let id = ShadowID(unchecked: statement.string(at: 0) ?? "", shadowName: shadow.isEmpty ? nil : shadow)
                result.append(
                    (id, try Self.decode(statement.string(at: 2), deleted: statement.int64(at: 3) != 0, id: id)))
            }
            return result
        }
    }

    /// Names of the live named shadows of a thing, sorted.
    public func namedShadows(of thing: String) async throws -> [String] {
        try await read { database in
            let statement = try database.prepare(
                "SELECT shadow FROM shadows WHERE thing = ? AND shadow <> '' AND deleted = 0 ORDER BY shadow")
            try statement.bind([.text(thing)])
            var names: [String] = []
            while try statement.step() { names.append(statement.string(at: 0) ?? "") }
            return names
        }
    }

    /// Stores `record` if the stored version is still `expectedVersion` (`nil`: no row yet).
    /// Returns once the transaction holding the write has committed.
    public func saveShadow(_ id: ShadowID, _ record: ShadowRecord, replacing expectedVersion: Int64?, at now: Int64)
        async throws
    {
        try await enqueueSaveShadow(id, record, replacing: expectedVersion, at: now).wait()
    }

    /// Queues the write at once, so that writes queued one after the other commit in that
    /// order; the ticket tells when it is durable.
    public func enqueueSaveShadow(
        _ id: ShadowID, _ record: ShadowRecord, replacing expectedVersion: Int64?, at now: Int64
    )
        -> WriteTicket
    {
        let document = record.snapshot.compactText
        let ticket = WriteTicket()
        writer.enqueue(
            { database in
                let values: [SQLiteValue] = [
                    .integer(record.version), .integer(record.exists ? 0 : 1), .text(document), .integer(now),
                    .text(id.thingName), .text(id.shadowName ?? ""),
                ]
                if let expectedVersion {
                    let statement = try database.prepare(
                        """
                        UPDATE shadows SET version = ?, deleted = ?, document = ?, updated_at = ?
                        WHERE thing = ? AND shadow = ? AND version = ?
                        """)
                    try statement.run(values + [.integer(expectedVersion)])
                } else {
                    let statement = try database.prepare(
                        """
                        INSERT INTO shadows (version, deleted, document, updated_at, thing, shadow)
                        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                        """)
                    try statement.run(values)
                }
                guard database.changes == 1 else { throw StaleShadowError(id: id, expectedVersion: expectedVersion) }
            }, completion: { ticket.complete($0) })
        return ticket
    }

    static func decode(_ text: String?, deleted: Bool, id: ShadowID) throws -> ShadowRecord {
        guard let text, let record = ShadowRecord(snapshot: try JSONParser().parse(text), exists: !deleted) else {
            throw SQLiteError(
                code: .init(rawValue: 11), message: "shadow '\(id.qualifiedName)' has an unreadable document")
        }
        return record
    }
}

public import HubCore

/// A household member: a name, a role, a password kept as a scrypt hash (docs/dashboard.md).
public struct MemberRecord: Sendable, Equatable {
    public var name: String
    public var role: Permission
    public var passwordHash: String
    public var createdAt: Int64
    public var changedAt: Int64

    public init(name: String, role: Permission, passwordHash: String, createdAt: Int64, changedAt: Int64) {
        self.name = name
        self.role = role
        self.passwordHash = passwordHash
        self.createdAt = createdAt
        self.changedAt = changedAt
    }

    /// As the API shows it (never the hash).
    public var json: JSONValue {
        [
            "name": .string(name), "role": .string(role.rawValue), "createdAt": .integer(createdAt),
            "passwordChangedAt": .integer(changedAt),
        ]
    }
}

extension HubStore {
    public func members() async throws -> [MemberRecord] {
        try await read { database in
            let statement = try database.prepare(
                "SELECT name, role, password_hash, created_at, changed_at FROM members ORDER BY name")
            var result: [MemberRecord] = []
            while try statement.step() {
                result.append(
                    MemberRecord(
                        name: statement.string(at: 0) ?? "",
                        role: Permission(rawValue: statement.string(at: 1) ?? "") ?? .read,
                        passwordHash: statement.string(at: 2) ?? "", createdAt: statement.int64(at: 3),
                        changedAt: statement.int64(at: 4)))
            }
            return result
        }
    }

    /// Adds a member (false: the name is taken) or, with `replacing`, changes one.
    public func saveMember(_ member: MemberRecord, replacing: Bool) async throws -> Bool {
        try await writer.write { database in
            let sql =
                replacing
                ? "UPDATE members SET role = ?2, password_hash = ?3, changed_at = ?5 WHERE name = ?1"
                : "INSERT OR IGNORE INTO members (name, role, password_hash, created_at, changed_at) VALUES (?1, ?2, ?3, ?4, ?5)"
            try database.prepare(sql).run([
                .text(member.name), .text(member.role.rawValue), .text(member.passwordHash),
                .integer(member.createdAt), .integer(member.changedAt),
            ])
            return database.changes == 1
        }
    }

    public func removeMember(_ name: String) async throws -> Bool {
        try await writer.write { database in
            try database.prepare("DELETE FROM members WHERE name = ?").run([.text(name)])
            return database.changes == 1
        }
    }
}

public import HubCore

/// An application identity: a name, a role, and the salted hash of its MQTT password (its MQTT
/// user name is its name). The password itself is shown once, when made, and never stored.
public struct ApplicationRecord: Sendable, Equatable {
    public var name: String
    public var role: Permission
    /// mosquitto's `$7$` form (PBKDF2-SHA512, 101 rounds, a 12-byte salt): the broker checks it.
    public var passwordHash: String
    public var createdAt: Int64
    public var rotatedAt: Int64
    /// An AWS-style key pair for HTTPS (SigV4), when issued. SigV4 needs the secret itself on the
    /// verifying side: it is kept in the database (data_dir, 0750, the hub's user), never shown again.
    public var accessKeyID: String?
    public var secretAccessKey: String?

    public init(
        name: String, role: Permission, passwordHash: String, createdAt: Int64, rotatedAt: Int64,
        accessKeyID: String? = nil, secretAccessKey: String? = nil
    ) {
        self.name = name
        self.role = role
        self.passwordHash = passwordHash
        self.createdAt = createdAt
        self.rotatedAt = rotatedAt
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
    }

    /// The record as the API shows it: never the hash.
    public var json: JSONValue {
        [
            "name": .string(name), "role": .string(role.rawValue), "mqtt": ["username": .string(name)],
            "createdAt": .integer(createdAt), "rotatedAt": .integer(rotatedAt),
            "aws": accessKeyID.map { ["accessKeyId": .string($0)] } ?? .null,
        ]
    }
}

extension HubStore {
    public func applications() async throws -> [ApplicationRecord] {
        try await read { database in
            let statement = try database.prepare(
                """
                SELECT name, role, mqtt_password_hash, created_at, rotated_at, access_key_id, secret_access_key
                FROM applications ORDER BY name
                """)
            var result: [ApplicationRecord] = []
            while try statement.step() {
                result.append(
                    ApplicationRecord(
                        name: statement.string(at: 0) ?? "",
                        role: Permission(rawValue: statement.string(at: 1) ?? "") ?? .read,
                        passwordHash: statement.string(at: 2) ?? "", createdAt: statement.int64(at: 3),
                        rotatedAt: statement.int64(at: 4), accessKeyID: statement.string(at: 5),
                        secretAccessKey: statement.string(at: 6)))
            }
            return result
        }
    }

    /// Adds the application, or replaces its role and hash when `replacing` is true; false when
    /// it exists and `replacing` is false.
    public func saveApplication(_ application: ApplicationRecord, replacing: Bool) async throws -> Bool {
        try await writer.write { database in
            try database.prepare(
                replacing
                    ? """
                    INSERT INTO applications (name, role, mqtt_password_hash, created_at, rotated_at, access_key_id,
                        secret_access_key) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                        mqtt_password_hash = excluded.mqtt_password_hash, rotated_at = excluded.rotated_at,
                        access_key_id = excluded.access_key_id, secret_access_key = excluded.secret_access_key
                    """
                    : """
                    INSERT INTO applications (name, role, mqtt_password_hash, created_at, rotated_at, access_key_id,
                        secret_access_key) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (name) DO NOTHING
                    """
            ).run([
                .text(application.name), .text(application.role.rawValue), .text(application.passwordHash),
                .integer(application.createdAt), .integer(application.rotatedAt),
                application.accessKeyID.map { .text($0) } ?? .null,
                application.secretAccessKey.map { .text($0) } ?? .null,
            ])
            return database.changes > 0
        }
    }

    public func removeApplication(_ name: String) async throws -> Bool {
        try await writer.write { database in
            try database.prepare("DELETE FROM applications WHERE name = ?").run([.text(name)])
            return database.changes > 0
        }
    }
}

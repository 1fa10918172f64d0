public import HubCore

/// A registered device: its name, device type and type-specific configuration.
public struct ThingRegistration: Sendable, Equatable {
    public var name: String
    public var deviceType: String?
    public var config: JSONObject
    public var createdAt: Int64

    public init(name: String, deviceType: String?, config: JSONObject = .empty, createdAt: Int64) {
        self.name = name
        self.deviceType = deviceType
        self.config = config
        self.createdAt = createdAt
    }
}

extension HubStore {
    public func things() async throws -> [ThingRegistration] {
        try await read { database in
            let statement = try database.prepare(
                "SELECT name, device_type, config, created_at FROM things ORDER BY name")
            var result: [ThingRegistration] = []
            while try statement.step() {
                let config = (try? JSONParser().parse(statement.string(at: 2) ?? "{}"))?.objectValue ?? [:]
                result.append(
                    ThingRegistration(
                        name: statement.string(at: 0) ?? "", deviceType: statement.string(at: 1), config: config,
                        createdAt: statement.int64(at: 3)))
            }
            return result
        }
    }

    /// Adds the thing, or replaces its type and config when it is already registered.
    public func registerThing(_ thing: ThingRegistration) async throws {
        try await writer.write { database in
            try database.prepare(
                """
                INSERT INTO things (name, device_type, config, created_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET device_type = excluded.device_type, config = excluded.config
                """
            ).run([
                .text(thing.name), thing.deviceType.map { .text($0) } ?? .null,
                .text(JSONValue.object(thing.config).compactText), .integer(thing.createdAt),
            ])
        }
    }

    /// Removes the registration; returns whether there was one. Shadows are kept (as in AWS).
    @discardableResult
    public func removeThing(_ name: String) async throws -> Bool {
        try await writer.write { database in
            try database.prepare("DELETE FROM things WHERE name = ?").run([.text(name)])
            return database.changes == 1
        }
    }
}

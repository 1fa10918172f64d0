public import HubCore

/// A registered device: its name, device type and type-specific configuration.
public struct ThingRegistration: Sendable, Equatable {
    public var name: String
    public var deviceType: String?
    public var config: JSONObject
    public var createdAt: Int64
    /// When its bridge plugin said the device is gone (nil: present). Registering it again clears it.
    public var goneAt: Int64?

    public init(name: String, deviceType: String?, config: JSONObject = .empty, createdAt: Int64, goneAt: Int64? = nil)
    {
        self.name = name
        self.deviceType = deviceType
        self.config = config
        self.createdAt = createdAt
        self.goneAt = goneAt
    }
}

/// A device type a bridge plugin declared, as the store keeps it.
public struct DeclaredTypeRecord: Sendable, Equatable {
    public var name: String
    public var plugin: String
    public var definition: JSONValue
    public var declaredAt: Int64

    public init(name: String, plugin: String, definition: JSONValue, declaredAt: Int64) {
        self.name = name
        self.plugin = plugin
        self.definition = definition
        self.declaredAt = declaredAt
    }
}

extension HubStore {
    public func things() async throws -> [ThingRegistration] {
        try await read { database in
            let statement = try database.prepare(
                "SELECT name, device_type, config, created_at, gone_at FROM things ORDER BY name")
            var result: [ThingRegistration] = []
            while try statement.step() {
                let config = (try? JSONParser().parse(statement.string(at: 2) ?? "{}"))?.objectValue ?? [:]
                result.append(
                    ThingRegistration(
                        name: statement.string(at: 0) ?? "", deviceType: statement.string(at: 1), config: config,
                        createdAt: statement.int64(at: 3),
                        goneAt: statement.isNull(at: 4) ? nil : statement.int64(at: 4)))
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
                ON CONFLICT(name) DO UPDATE SET device_type = excluded.device_type, config = excluded.config,
                    gone_at = NULL
                """
            ).run([
                .text(thing.name), thing.deviceType.map { .text($0) } ?? .null,
                .text(JSONValue.object(thing.config).compactText), .integer(thing.createdAt),
            ])
        }
    }

    /// Marks a thing gone from its bridge (registration and shadows stay); false when unknown.
    @discardableResult
    public func markThingGone(_ name: String, at time: Int64) async throws -> Bool {
        try await writer.write { database in
            try database.prepare("UPDATE things SET gone_at = ? WHERE name = ? AND gone_at IS NULL").run([
                .integer(time), .text(name),
            ])
            return database.changes == 1
        }
    }

    /// Every device type bridges declared, by name.
    public func declaredTypes() async throws -> [DeclaredTypeRecord] {
        try await read { database in
            let statement = try database.prepare(
                "SELECT name, plugin, definition, declared_at FROM declared_types ORDER BY name")
            var result: [DeclaredTypeRecord] = []
            while try statement.step() {
                result.append(
                    DeclaredTypeRecord(
                        name: statement.string(at: 0) ?? "", plugin: statement.string(at: 1) ?? "",
                        definition: (try? JSONParser().parse(statement.string(at: 2) ?? "null")) ?? .null,
                        declaredAt: statement.int64(at: 3)))
            }
            return result
        }
    }

    /// Adds or replaces a declared type.
    public func saveDeclaredType(_ record: DeclaredTypeRecord) async throws {
        try await writer.write { database in
            try database.prepare(
                """
                INSERT INTO declared_types (name, plugin, definition, declared_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET plugin = excluded.plugin, definition = excluded.definition,
                    declared_at = excluded.declared_at
                """
            ).run([
                .text(record.name), .text(record.plugin), .text(record.definition.compactText),
                .integer(record.declaredAt),
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

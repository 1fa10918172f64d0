public import HubCore

/// What the hub and AWS IoT Core last agreed on for one synced shadow (docs/cloud.md).
public struct CloudSyncRecord: Sendable, Equatable {
    public var thing: String
    /// "" for the classic shadow.
    public var shadow: String
    public var cloudThing: String
    /// The state both sides held at the last sync: `{"desired": …, "reported": …}`.
    public var base: JSONValue
    public var localVersion: Int64
    /// AWS's version at the last sync (0: the cloud had no shadow).
    public var cloudVersion: Int64
    public var syncedAt: Int64

    public init(
        thing: String, shadow: String, cloudThing: String, base: JSONValue, localVersion: Int64, cloudVersion: Int64,
        syncedAt: Int64
    ) {
        self.thing = thing
        self.shadow = shadow
        self.cloudThing = cloudThing
        self.base = base
        self.localVersion = localVersion
        self.cloudVersion = cloudVersion
        self.syncedAt = syncedAt
    }
}

extension HubStore {
    public func cloudSyncRecords() async throws -> [CloudSyncRecord] {
        try await read { database in
            let statement = try database.prepare(
                """
                SELECT thing, shadow, cloud_thing, base, local_version, cloud_version, synced_at
                FROM cloud_sync ORDER BY thing, shadow
                """)
            var result: [CloudSyncRecord] = []
            while try statement.step() {
                result.append(
                    CloudSyncRecord(
                        thing: statement.string(at: 0) ?? "", shadow: statement.string(at: 1) ?? "",
                        cloudThing: statement.string(at: 2) ?? "",
                        base: (try? JSONParser().parse(statement.string(at: 3) ?? "{}")) ?? [:],
                        localVersion: statement.int64(at: 4), cloudVersion: statement.int64(at: 5),
                        syncedAt: statement.int64(at: 6)))
            }
            return result
        }
    }

    /// Records a sync (durably, in the group commit, before the caller goes on).
    public func saveCloudSync(_ record: CloudSyncRecord) async throws {
        try await writer.write { database in
            try database.prepare(
                """
                INSERT INTO cloud_sync (thing, shadow, cloud_thing, base, local_version, cloud_version, synced_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(thing, shadow) DO UPDATE SET cloud_thing = excluded.cloud_thing, base = excluded.base,
                    local_version = excluded.local_version, cloud_version = excluded.cloud_version,
                    synced_at = excluded.synced_at
                """
            ).run([
                .text(record.thing), .text(record.shadow), .text(record.cloudThing), .text(record.base.compactText),
                .integer(record.localVersion), .integer(record.cloudVersion), .integer(record.syncedAt),
            ])
        }
    }
}

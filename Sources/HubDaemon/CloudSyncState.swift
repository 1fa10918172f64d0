import HubCore
import HubStore
import Synchronization

/// What cloud sync knows (docs/cloud.md): per synced shadow the agreed state (the durable
/// record), the cloud's latest copy, the update in flight; the connection, and the last error in
/// words. Behind one Mutex, never held across a suspension; `hubctl cloud status` reads it.
final class CloudSyncState: Sendable {
    struct Entry: Sendable {
        var thing: String
        var cloudThing: String
        var direction: ShadowSync.Direction

        /// `$aws/things/CLOUD_THING/shadow[/name/SHADOW]`.
        func cloudPrefix(_ id: ShadowID) -> String {
            "$aws/things/\(cloudThing)/shadow" + (id.shadowName.map { "/name/\($0)" } ?? "")
        }
    }

    /// The cloud's copy of a shadow.
    struct Cloud: Sendable, Equatable {
        var state: ShadowSync.State
        /// AWS's version (0: there is no cloud shadow).
        var version: Int64
        /// When `desired.command` was last written in the cloud (its metadata), to tell a new
        /// command request from the same one seen in a later version.
        var commandStamp: Int64?

        static let absent = Cloud(state: .init(), version: 0, commandStamp: nil)

        init(state: ShadowSync.State, version: Int64, commandStamp: Int64?) {
            self.state = state
            self.version = version
            self.commandStamp = commandStamp
        }

        init(document: JSONValue, version: Int64) {
            state = ShadowSync.State(document["state"])
            self.version = version
            commandStamp = Self.firstTimestamp(document["metadata"]?["desired"]?["command"])
        }

        static func firstTimestamp(_ metadata: JSONValue?) -> Int64? {
            switch metadata {
            case .object(let object)?:
                if let stamp = object["timestamp"]?.integerValue { return stamp }
                return object.values.lazy.compactMap { firstTimestamp($0) }.first
            case .array(let array)?:
                return array.lazy.compactMap { firstTimestamp($0) }.first
            default:
                return nil
            }
        }
    }

    struct Flight: Sendable {
        var token: String
        var merged: ShadowSync.State
        var localVersion: Int64
    }

    struct PerShadow: Sendable {
        var entry: Int
        /// Synced for its state; false: only its `desired.command` is taken (the classic shadow
        /// of a synced thing, where the source document's applications write commands).
        var syncsState: Bool
        var record: CloudSyncRecord?
        var cloud: Cloud?
        var flight: Flight?
        var pending = false
        var lastError: String?
    }

    struct Inner: Sendable {
        var entries: [Entry] = []
        var shadows: [ShadowID: PerShadow] = [:]
        var connected = false
        var since: Int64?
        var lastError: String?
        var nextToken = 0
        /// The token bucket of updates to the cloud.
        var tokens = 0.0
        var refilledAt: UInt64 = 0
        /// Command requests already taken (accepted or refused), newest last; bounded.
        var handledCommands: [String] = []
        /// Per cloud thing: updates it may still take now, and when that was last refilled.
        var thingBudgets: [String: (tokens: Double, at: UInt64)] = [:]
    }

    /// Updates per second the hub sends one cloud thing, sustained (bursts of as many): AWS IoT
    /// Core takes 20 shadow requests a second per thing, and the household's own applications
    /// need room too. Changes meanwhile are merged into the one pending update.
    static let updatesPerSecondPerThing = 5.0

    static let getToken = "homehub-sync-get"
    /// Command-only shadows a cloud thing may bring (a cloud that creates shadows without end
    /// cannot grow the hub's memory without end).
    static let maxCommandShadowsPerThing = 16

    let rate: Double
    private let inner = Mutex(Inner())

    init(rate: Double) {
        self.rate = rate
    }

    /// The configured shadows, with their agreement from hub.db. A thing without a `shadows`
    /// list syncs its type's shadows and the ones it has now; the classic shadow of each synced
    /// thing is also followed for commands.
    func load(store: HubStore, shadows: ShadowService, configuration: HubConfiguration.Cloud) async throws {
        let records = try await store.cloudSyncRecords()
        var entries: [Entry] = []
        var perShadow: [ShadowID: PerShadow] = [:]
        for sync in configuration.sync {
            let index = entries.count
            entries.append(Entry(thing: sync.thing, cloudThing: sync.cloudThing, direction: sync.direction))
            var names: [String?]
            if let listed = sync.shadows {
                names = listed.map { $0.isEmpty ? nil : $0 }
            } else {
                let typed = shadows.registry.deviceType(of: sync.thing)?.shadows.map { Optional($0.name) } ?? []
                let live = await shadows.shadows(of: sync.thing).map(\.id.shadowName)
                names = typed + live.filter { !typed.contains($0) }
            }
            for name in names {
                guard let id = try? ShadowID(thingName: sync.thing, shadowName: name) else { continue }
                let record = records.first {
                    $0.thing == sync.thing && $0.shadow == (name ?? "") && $0.cloudThing == sync.cloudThing
                }
                perShadow[id] = PerShadow(entry: index, syncsState: true, record: record)
            }
            let classic = ShadowID(unchecked: sync.thing, shadowName: nil)
            if perShadow[classic] == nil {
                perShadow[classic] = PerShadow(entry: index, syncsState: false)
            }
        }
        inner.withLock {
            $0.entries = entries
            $0.shadows = perShadow
        }
    }

    /// Follows one more shadow, synced for its state (what `load` does for each configured one).
    func follow(_ id: ShadowID, cloudThing: String, direction: ShadowSync.Direction) {
        inner.withLock { state in
            let index = state.entries.firstIndex { $0.cloudThing == cloudThing } ?? state.entries.count
            if index == state.entries.count {
                state.entries.append(Entry(thing: id.thingName, cloudThing: cloudThing, direction: direction))
            }
            state.shadows[id] = PerShadow(entry: index, syncsState: true)
        }
    }

    // MARK: - Lookups

    func entry(for id: ShadowID) -> Entry? {
        inner.withLock { state in state.shadows[id].map { state.entries[$0.entry] } }
    }

    func entry(cloudThing: String) -> Entry? {
        inner.withLock { $0.entries.first { $0.cloudThing == cloudThing } }
    }

    func cloudThings() -> [String] { inner.withLock { $0.entries.map(\.cloudThing) } }

    func isSynced(_ id: ShadowID) -> Bool { inner.withLock { $0.shadows[id]?.syncsState == true } }
    func allSynced() -> [ShadowID] { inner.withLock { $0.shadows.filter(\.value.syncsState).map(\.key) } }

    /// The hub's shadow a cloud topic is about; a command-only entry is made for an unsynced
    /// shadow of a synced cloud thing (bounded per thing).
    func localID(for topic: CloudTopic) -> ShadowID? {
        inner.withLock { state in
            guard let index = state.entries.firstIndex(where: { $0.cloudThing == topic.thing }) else { return nil }
            let entry = state.entries[index]
            guard let id = try? ShadowID(thingName: entry.thing, shadowName: topic.shadow) else { return nil }
            if state.shadows[id] == nil {
                let count = state.shadows.values.filter { $0.entry == index && !$0.syncsState }.count
                guard count < Self.maxCommandShadowsPerThing else { return nil }
                state.shadows[id] = PerShadow(entry: index, syncsState: false)
            }
            return id
        }
    }

    var isConnected: Bool { inner.withLock { $0.connected } }

    func cloud(_ id: ShadowID) -> Cloud? { inner.withLock { $0.shadows[id]?.cloud } }

    func base(_ id: ShadowID) -> ShadowSync.State? {
        inner.withLock { $0.shadows[id]?.record.map { ShadowSync.State($0.base) } }
    }

    // MARK: - Changes

    func connected(at time: Int64) {
        inner.withLock {
            $0.connected = true
            $0.since = time
            $0.lastError = nil
        }
    }

    func disconnected(because reason: String) {
        inner.withLock {
            if $0.connected { $0.since = nil }
            $0.connected = false
            $0.lastError = reason
        }
    }

    func failed(_ reason: String, shadow id: ShadowID? = nil) {
        inner.withLock {
            $0.lastError = reason
            if let id { $0.shadows[id]?.lastError = reason }
        }
    }

    /// At each connection: the cloud's copies are unknown again and nothing is in flight; the
    /// shadows to ask the cloud for.
    func resetForFullSync() -> [ShadowID] {
        inner.withLock { state in
            for id in state.shadows.keys {
                state.shadows[id]?.cloud = nil
                state.shadows[id]?.flight = nil
                state.shadows[id]?.pending = false
            }
            return state.shadows.keys.sorted {
                ($0.thingName, $0.shadowName ?? "") < ($1.thingName, $1.shadowName ?? "")
            }
        }
    }

    /// A newer cloud copy (true), or one not newer than what is known (false: ignored; AWS may
    /// deliver out of order).
    @discardableResult
    func cloudChanged(_ id: ShadowID, _ cloud: Cloud, forgetAgreement: Bool = false) -> Bool {
        inner.withLock { state in
            guard var shadow = state.shadows[id] else { return false }
            if cloud.version != 0, let known = shadow.cloud, known.version >= cloud.version { return false }
            shadow.cloud = cloud
            if forgetAgreement, let record = shadow.record {
                var forgotten = record
                forgotten.base = ShadowSync.State().json
                forgotten.cloudVersion = 0
                shadow.record = forgotten
            }
            state.shadows[id] = shadow
            return true
        }
    }

    enum CloudUpdate { case applied, gap, known }

    /// Another client's accepted update (its `state` section and the new version) on the copy.
    func applyCloudUpdate(_ id: ShadowID, _ section: JSONValue?, version: Int64) -> CloudUpdate {
        inner.withLock { state in
            guard let known = state.shadows[id]?.cloud else { return .gap }
            if known.version >= version { return .known }
            guard known.version == version - 1 else { return .gap }
            var copy = known
            copy.state.desired = ShadowSync.applyPatch(copy.state.desired, section?["desired"]?.objectValue ?? [:])
            copy.state.reported = ShadowSync.applyPatch(copy.state.reported, section?["reported"]?.objectValue ?? [:])
            if section?["desired"] == .null { copy.state.desired = [:] }
            if section?["reported"] == .null { copy.state.reported = [:] }
            copy.version = version
            state.shadows[id]?.cloud = copy
            return .applied
        }
    }

    func isNewer(_ id: ShadowID, version: Int64) -> Bool {
        inner.withLock { state in
            guard let known = state.shadows[id]?.cloud else { return false }
            return version > known.version
        }
    }

    func markPendingIfInFlight(_ id: ShadowID) -> Bool {
        inner.withLock { state in
            guard state.shadows[id]?.flight != nil else { return false }
            state.shadows[id]?.pending = true
            return true
        }
    }

    func takePendingAfterFlight(_ id: ShadowID) -> Bool {
        inner.withLock { state in
            guard state.shadows[id]?.flight == nil, state.shadows[id]?.pending == true else { return false }
            state.shadows[id]?.pending = false
            return true
        }
    }

    func startFlight(_ id: ShadowID, token: String, merged: ShadowSync.State, localVersion: Int64) {
        inner.withLock { $0.shadows[id]?.flight = Flight(token: token, merged: merged, localVersion: localVersion) }
    }

    /// The flight of `token`, ended (nil when it is not the one in flight).
    func takeInFlight(_ id: ShadowID, token: String) -> Flight? {
        inner.withLock { state in
            guard let flight = state.shadows[id]?.flight, flight.token == token else { return nil }
            state.shadows[id]?.flight = nil
            return flight
        }
    }

    func clearInFlight(_ id: ShadowID, token: String) -> Bool { takeInFlight(id, token: token) != nil }

    /// An agreement recorded. When AWS accepted our update at a version newer than the cloud copy
    /// known here, the cloud now holds exactly the agreed state at that version (the update carried
    /// the version it was merged against): the copy is that, so a later merge never mistakes a
    /// not-yet-seen `documents` message for a change in the cloud.
    func agreed(_ id: ShadowID, _ record: CloudSyncRecord) {
        inner.withLock { state in
            state.shadows[id]?.record = record
            state.shadows[id]?.lastError = nil
            if let cloud = state.shadows[id]?.cloud, cloud.version < record.cloudVersion {
                state.shadows[id]?.cloud = Cloud(
                    state: ShadowSync.State(record.base), version: record.cloudVersion, commandStamp: cloud.commandStamp
                )
            }
        }
    }

    /// True the first time a cloud command request is seen (the last 256 are remembered; the
    /// ledger's idempotency keys catch an accepted one beyond that).
    func firstTime(commandKey key: String) -> Bool {
        inner.withLock { state in
            if state.handledCommands.contains(key) { return false }
            state.handledCommands.append(key)
            if state.handledCommands.count > 256 { state.handledCommands.removeFirst() }
            return true
        }
    }

    func nextToken() -> String {
        inner.withLock {
            $0.nextToken += 1
            return "homehub-sync-\($0.nextToken)"
        }
    }

    /// nil: the cloud thing may take an update now (a token is taken); otherwise seconds to wait.
    func thingBudget(_ cloudThing: String, now: UInt64) -> Double? {
        inner.withLock { state in
            let rate = Self.updatesPerSecondPerThing
            var budget = state.thingBudgets[cloudThing] ?? (rate, now)
            budget.tokens = min(rate, budget.tokens + Double(now &- budget.at) / 1e9 * rate)
            budget.at = now
            defer { state.thingBudgets[cloudThing] = budget }
            if budget.tokens >= 1 {
                budget.tokens -= 1
                return nil
            }
            return (1 - budget.tokens) / rate
        }
    }

    /// nil: publish now (a token is taken); otherwise nanoseconds to wait first.
    func waitBeforePublish(now: UInt64) -> UInt64? {
        inner.withLock { state in
            if state.refilledAt == 0 {
                state.refilledAt = now
                state.tokens = rate
            }
            let elapsed = Double(now &- state.refilledAt) / 1e9
            state.tokens = min(rate, state.tokens + elapsed * rate)
            state.refilledAt = now
            if state.tokens >= 1 {
                state.tokens -= 1
                return nil
            }
            return UInt64((1 - state.tokens) / rate * 1e9) + 1
        }
    }

    // MARK: - Status

    func statusJSON(configuration: HubConfiguration.Cloud) -> JSONValue {
        inner.withLock { state in
            let shadows: [JSONValue] = state.shadows.sorted {
                ($0.key.thingName, $0.key.shadowName ?? "") < ($1.key.thingName, $1.key.shadowName ?? "")
            }.map { id, shadow in
                let entry = state.entries[shadow.entry]
                return [
                    "thing": .string(id.thingName), "shadow": id.shadowName.map(JSONValue.string) ?? .null,
                    "cloudThing": .string(entry.cloudThing), "direction": .string(entry.direction.rawValue),
                    "syncsState": .bool(shadow.syncsState),
                    "lastSync": shadow.record.map { .integer($0.syncedAt) } ?? .null,
                    "localVersion": shadow.record.map { .integer($0.localVersion) } ?? .null,
                    "cloudVersion": shadow.cloud.map { .integer($0.version) } ?? .null,
                    "pending": .string(
                        shadow.flight != nil
                            ? "an update waits for AWS's answer"
                                + (shadow.pending ? ", and another change after it" : "")
                            : (shadow.cloud == nil && state.connected ? "waiting for the cloud's copy" : "nothing")),
                    "lastError": shadow.lastError.map(JSONValue.string) ?? .null,
                ]
            }
            return [
                "enabled": .bool(configuration.enabled), "endpoint": .string(configuration.endpoint),
                "port": .integer(Int64(configuration.port)), "clientId": .string(configuration.clientID),
                "allowSensitive": .bool(configuration.allowSensitive), "connected": .bool(state.connected),
                "since": state.since.map(JSONValue.integer) ?? .null,
                "lastError": state.lastError.map(JSONValue.string) ?? .null, "shadows": .array(shadows),
            ]
        }
    }
}

import Dispatch
import Foundation
import HubCore
import HubPlugins
import HubStore
import Logging
import Synchronization

@testable import HubDaemon

/// A fresh directory under the system's temporary directory, removed when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    init(_ prefix: String = "homehub-daemon-test") {
        let template = NSTemporaryDirectory() + "/\(prefix)-XXXXXX"
        var bytes = Array(template.utf8CString)
        path = bytes.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A clock the test sets: wall time in milliseconds, monotonic time in nanoseconds.
final class ManualClock: HubClock {
    private let now = Mutex<(milliseconds: Int64, nanoseconds: UInt64)>((1_800_000_000_000, 1_000_000_000))

    func epochSeconds() -> Int64 { now.withLock { $0.milliseconds / 1000 } }
    func epochMilliseconds() -> Int64 { now.withLock { $0.milliseconds } }
    func monotonicNanoseconds() -> UInt64 { now.withLock { $0.nanoseconds } }

    /// The wall clock alone moves (a clock set by hand); the monotonic one never goes back.
    func stepWallClock(seconds: Double) { now.withLock { $0.milliseconds += Int64(seconds * 1000) } }

    func advance(seconds: Double) {
        now.withLock {
            $0.milliseconds += Int64(seconds * 1000)
            $0.nanoseconds += UInt64(seconds * 1e9)
        }
    }
}

/// Records what the hub would publish on MQTT.
final class RecordingPublisher: ShadowPublisher {
    private let messages = Mutex<[(topic: String, document: JSONValue)]>([])

    func publish(_ topic: String, _ document: JSONValue) async -> Bool {
        messages.withLock { $0.append((topic, document)) }
        return true
    }

    func topics() -> [String] { messages.withLock { $0.map(\.topic) } }
}

/// Holds the store's next commit at the point just before COMMIT, or makes it fail: the test
/// decides what happens while a service is suspended at exactly that await.
final class CommitGate: Sendable {
    enum Mode { case pass, hold, fail }

    private let mode = Mutex<Mode>(.pass)
    private let release = DispatchSemaphore(value: 0)
    let arrivals: AsyncStream<Void>
    private let arrived: AsyncStream<Void>.Continuation

    struct InjectedFailure: Error, CustomStringConvertible {
        var description: String { "injected commit failure" }
    }

    init() {
        (arrivals, arrived) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// The next commit waits at the gate until ``open()``; later ones pass.
    func holdNext() { mode.withLock { $0 = .hold } }
    /// The next commit fails; later ones pass.
    func failNext() { mode.withLock { $0 = .fail } }
    func open() { release.signal() }

    /// What the store runs on its writer queue before each COMMIT (a dispatch thread, not the
    /// cooperative pool, so waiting here holds only the writer).
    func beforeCommit() throws {
        let now = mode.withLock { mode in
            defer { mode = .pass }
            return mode
        }
        switch now {
        case .pass: return
        case .fail: throw InjectedFailure()
        case .hold:
            arrived.yield()
            release.wait()
        }
    }
}

/// A shadow service on a temporary SQLite file, with a fake publisher and a manual clock.
struct ShadowHarness: Sendable {
    let directory = TemporaryDirectory()
    let gate = CommitGate()
    let clock = ManualClock()
    let publisher = RecordingPublisher()
    let events = EventBus()
    let store: HubStore
    let registry: ThingRegistry
    let shadows: ShadowService
    let identities: FixedDirectory

    init(
        types: [DeviceType] = [], things: [ThingRegistration] = [], requestsPerSecond: Double = 0,
        applications: [String: Permission] = [:], policy: AccessPolicy = AccessPolicy()
    ) async throws {
        let gate = self.gate
        store = try HubStore(
            path: directory.path + "/hub.db", options: .init(beforeCommit: { try gate.beforeCommit() }),
            now: clock.epochSeconds())
        for thing in things { try await store.registerThing(thing) }
        let identities = FixedDirectory(applications: applications)
        self.identities = identities
        registry = ThingRegistry(
            things: things, deviceTypes: Dictionary(uniqueKeysWithValues: types.map { ($0.name, $0) }))
        shadows = try await ShadowService(
            store: store, limits: .aws, requestsPerSecondPerThing: requestsPerSecond, requireRegisteredThings: false,
            clock: clock,
            registry: registry,
            access: AccessGate(
                rules: AccessRules(policy: policy, anonymousRole: .write),
                directory: identities, store: store, clock: clock,
                logger: Logger(label: "test")),
            fanOut: ShadowFanOut(
                publisher: publisher, events: events, deltas: LatestValues(), manualChanges: LatestValues()),
            logger: Logger(label: "test"))
    }

    func update(
        _ thing: String, _ body: JSONValue, shadow: String? = nil, origin: ShadowService.Origin = .api,
        by identity: Identity = .hub
    ) async -> ShadowService.Answer {
        await shadows.perform(
            .init(.update, ShadowID(unchecked: thing, shadowName: shadow), payload: body.compactBytes), origin: origin,
            by: identity)
    }

    /// A command ledger on this harness's store and shadows, with no plugins (MQTT delivery).
    func commandLedger() -> CommandService {
        let plugins = PluginManager(
            discovered: ([], []), directories: [], options: PluginHostOptions(), delegate: NoPlugins(),
            logger: Logger(label: "test"))
        return CommandService(
            store: store, shadows: shadows, plugins: plugins, events: events, clock: clock,
            logger: Logger(label: "test"))
    }

    func get(_ thing: String, shadow: String? = nil) async -> ShadowService.Answer {
        await shadows.perform(.init(.get, ShadowID(unchecked: thing, shadowName: shadow)), origin: .api, by: .hub)
    }
}

/// Applications whose roles a test sets; users keep the groups they came with.
final class FixedDirectory: IdentityDirectory {
    let applications: Mutex<[String: Permission]>
    init(applications: [String: Permission]) { self.applications = Mutex(applications) }
    func role(ofApplication name: String) -> Permission? { applications.withLock { $0[name] } }
    func role(ofMember name: String) -> Permission? { nil }
    func current(_ caller: Caller) -> Caller { caller }
}

/// A plugin host delegate that does nothing: the command tests deliver over MQTT.
struct NoPlugins: PluginHostDelegate {
    func devices(for plugin: DiscoveredPlugin) async -> [JSONValue] { [] }
    func report(plugin: String, thing: String, shadow: String?, reported: JSONObject) async -> String? { nil }
    func deviceEvent(plugin: String, thing: String?, event: String, data: JSONValue) async {}
    func commandUpdate(plugin: String, method: String, params: JSONValue) async {}
    func pluginRestarted(plugin: String, reason: String) async {}
}

extension ShadowService.Answer {
    var version: Int64? {
        if case .success(let outcome) = self { return outcome.accepted["version"]?.numberValue?.exactInteger }
        return nil
    }

    var errorCode: Int? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
}

public import HubCore
public import HubStore
import Synchronization

/// The registered things and the device types the loaded plugins declare, by name: the cache
/// of the store's `things` table that every path consults without a query or a scan.
///
/// Writers change the store first and then this cache (``ControlBackend`` registers, removes);
/// readers take a consistent snapshot under the lock. Never held across a suspension.
public final class ThingRegistry: Sendable {
    public struct Entry: Sendable, Equatable {
        public var registration: ThingRegistration
        public var type: String? { registration.deviceType }
    }

    private struct State {
        var things: [String: ThingRegistration] = [:]
        var deviceTypes: [String: DeviceType] = [:]
        /// Device type → the id of the plugin that declares it.
        var owners: [String: String] = [:]
    }

    private let state = Mutex(State())

    public init(
        things: [ThingRegistration] = [], deviceTypes: [String: DeviceType] = [:], owners: [String: String] = [:]
    ) {
        state.withLock {
            for thing in things { $0.things[thing.name] = thing }
            $0.deviceTypes = deviceTypes
            $0.owners = owners
        }
    }

    public func register(_ thing: ThingRegistration) { state.withLock { $0.things[thing.name] = thing } }

    /// A device type a bridge plugin declared at run time (or again, changed).
    public func declare(_ type: DeviceType, owner: String) {
        state.withLock {
            $0.deviceTypes[type.name] = type
            $0.owners[type.name] = owner
        }
    }

    /// Marks a registered thing gone from its bridge.
    public func markGone(_ name: String, at time: Int64) {
        state.withLock { $0.things[name]?.goneAt = time }
    }
    public func remove(_ name: String) { _ = state.withLock { $0.things.removeValue(forKey: name) } }

    public func isRegistered(_ name: String) -> Bool { state.withLock { $0.things[name] != nil } }
    public func thing(_ name: String) -> ThingRegistration? { state.withLock { $0.things[name] } }
    public var count: Int { state.withLock { $0.things.count } }

    /// Every registered thing, by name.
    public func all() -> [ThingRegistration] { state.withLock { $0.things.values.sorted { $0.name < $1.name } } }

    /// The device type of a registered thing, when a loaded plugin declares it.
    public func deviceType(of thing: String) -> DeviceType? {
        state.withLock { state in state.things[thing]?.deviceType.flatMap { state.deviceTypes[$0] } }
    }

    public func deviceType(named name: String) -> DeviceType? { state.withLock { $0.deviceTypes[name] } }

    /// The plugin that declares a device type.
    public func owner(of type: String) -> String? { state.withLock { $0.owners[type] } }

    /// Registered things of the given device types, by name.
    public func things(ofTypes types: Set<String>) -> [ThingRegistration] {
        state.withLock { state in
            state.things.values.filter { $0.deviceType.map(types.contains) ?? false }.sorted { $0.name < $1.name }
        }
    }
}

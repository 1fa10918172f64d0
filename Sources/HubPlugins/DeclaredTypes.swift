public import HubCore
import Synchronization

/// The device types bridge plugins declared at run time (`types.declare`, hub API 2), with the
/// plugin that owns each: where the plugin manager routes their things' deltas and commands.
/// The daemon keeps them in its store too, so a type (and its sensitivity) holds from the
/// hub's start, before its plugin runs again.
public final class DeclaredTypes: Sendable {
    public struct Entry: Sendable, Equatable {
        public var plugin: String
        public var type: DeviceType
        /// The definition as declared (what the store keeps).
        public var definition: JSONValue

        public init(plugin: String, type: DeviceType, definition: JSONValue) {
            self.plugin = plugin
            self.type = type
            self.definition = definition
        }
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    public func set(_ entry: Entry) { entries.withLock { $0[entry.type.name] = entry } }
    public func entry(_ name: String) -> Entry? { entries.withLock { $0[name] } }
    /// The types a plugin declared, by name.
    public func types(of plugin: String) -> [DeviceType] {
        entries.withLock { $0.values.filter { $0.plugin == plugin }.map(\.type).sorted { $0.name < $1.name } }
    }
}

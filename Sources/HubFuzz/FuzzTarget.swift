import HubCore
import HubPlugins

/// The inputs a stranger can hand the hub, each as a function from arbitrary bytes to "no crash
/// and these properties hold". libFuzzer drives them (`make fuzz`); the regression test runs
/// every saved input through them (docs/fuzzing.md).
///
/// A property that does not hold stops the process (`precondition`), which is what libFuzzer
/// records as a crash and the regression test reports as a failure.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// An MQTT or REST shadow update, get and delete, applied in sequence to one shadow.
    case shadow
    /// An MQTT request: the first line is the topic, the rest the payload.
    case mqtt
    /// A plugin's manifest.json.
    case manifest
    /// A plugin's stdout: line framing and JSON-RPC classification.
    case pluginLine = "plugin-line"
    /// A cron expression and its next firings (UTC and a zone with DST).
    case cron
    /// A weekly program ("Mon-Fri 06:30 temperature=21; …") and its transitions.
    case program
    /// The hub's configuration file (TOML).
    case toml
    /// A control-API request (first line "METHOD /path", then the body) against a real hub
    /// core in memory: shadows, things, commands and schedules.
    case http
    /// An HTTPS request (first line "METHOD target", then headers, a blank line, the body),
    /// signed for it: SigV4 accepts it, and refuses it once the body or the target changes.
    case sigv4

    /// Runs one input. Inputs the rules refuse are fine; crashes and broken properties are not.
    public func run(_ bytes: [UInt8]) {
        switch self {
        case .shadow: FuzzShadow.run(bytes)
        case .mqtt: FuzzShadow.mqtt(bytes)
        case .manifest: FuzzParsers.manifest(bytes)
        case .pluginLine: FuzzParsers.pluginLine(bytes)
        case .cron: FuzzParsers.cron(bytes)
        case .program: FuzzParsers.program(bytes)
        case .toml: FuzzParsers.toml(bytes)
        case .http: FuzzHTTP.run(bytes)
        case .sigv4: FuzzSigV4.run(bytes)
        }
    }
}

/// Properties that hold for every JSON value the hub accepts.
enum JSONProperties {
    /// What the hub writes, it reads back as the same value (the store and MQTT depend on it).
    static func roundTrips(_ value: JSONValue, _ what: String) {
        let bytes = value.compactBytes
        guard let again = try? JSONParser().parse(bytes) else {
            preconditionFailure("\(what): the hub wrote JSON it cannot read: \(value.compactText.prefix(200))")
        }
        FuzzProperty.check(
            again == value, "\(what): JSON changed through a write and read: \(value.compactText.prefix(200))")
    }
}

/// Who is asking, on any path: the one table of identities (docs/security.md).
///
/// Every request that reaches a service carries one. What an identity may do is decided by
/// ``AccessRules`` from its *current* role, so a change of a user's groups or an application's
/// role takes effect at once, also for the schedules it created.
public enum Identity: Sendable, Equatable, CustomStringConvertible {
    /// The hub itself: the command ledger writing `desired.command`, its own maintenance.
    case hub
    /// A local user behind a control-socket connection (SO_PEERCRED).
    case user(Caller)
    /// A named application with hub-issued credentials and a role (`hubctl apps`).
    case application(String)
    /// A device with a hub-issued certificate whose CN is its thing: its own thing only.
    case device(String)
    /// A plugin process (its id): it reports for the things of its device types.
    case plugin(String)
    /// A schedule (its id) acting with the rights its creator has when it fires.
    /// (Only this case is indirect: the others travel with every MQTT message unboxed.)
    indirect case schedule(String, creator: Identity)
    /// An MQTT client that did not log in (only where `allow_anonymous` is on: `make run`).
    case anonymous
    /// A request whose sender nobody vouched for (an external broker, a last will): the reason.
    case unidentified(String)
    /// A household member signed in to the dashboard (`hubctl users`), with their role;
    /// `confirmed`: they gave their password within the last minutes, which a sensitive action
    /// needs (docs/dashboard.md).
    case member(String, confirmed: Bool)
    /// AWS IoT Core, through the hub's cloud sync (docs/cloud.md): role write, or sensitive with
    /// `[cloud] allow_sensitive`.
    case cloud

    /// The kind, as the audit log's `identity` column starts: `user`, `application`, ….
    public var kind: String {
        switch self {
        case .hub: return "hub"
        case .user: return "user"
        case .application: return "application"
        case .device: return "device"
        case .plugin: return "plugin"
        case .schedule: return "schedule"
        case .anonymous: return "anonymous"
        case .unidentified: return "unidentified"
        case .cloud: return "cloud"
        case .member: return "member"
        }
    }

    /// `user:alice`, `application:kitchen`, `schedule:morning (by user:alice)`, `anonymous`.
    public var description: String {
        switch self {
        case .hub: return "hub"
        case .user(let caller): return "user:\(caller.userName)"
        case .application(let name): return "application:\(name)"
        case .device(let thing): return "device:\(thing)"
        case .plugin(let id): return "plugin:\(id)"
        case .schedule(let id, let creator): return "schedule:\(id) (by \(creator))"
        case .anonymous: return "anonymous"
        case .unidentified(let reason): return "unidentified (\(reason))"
        case .cloud: return "cloud"
        case .member(let name, _): return "member:\(name)"
        }
    }

    /// How a sentence names it: `user 'alice'`, `application 'kitchen'`, `schedule 'x' of user 'alice'`.
    public var phrase: String {
        switch self {
        case .hub: return "the hub"
        case .user(let caller): return "user '\(caller.userName)'"
        case .application(let name): return "application '\(name)'"
        case .device(let thing): return "device '\(thing)'"
        case .plugin(let id): return "plugin '\(id)'"
        case .schedule(let id, let creator): return "schedule '\(id)' (acting for \(creator.phrase))"
        case .anonymous: return "an anonymous MQTT client"
        case .unidentified(let reason): return "an unidentified MQTT client (\(reason))"
        case .cloud: return "AWS IoT Core (the hub's cloud sync)"
        case .member(let name, _): return "household member '\(name)'"
        }
    }

    // MARK: - As stored with a schedule

    /// The identity as JSON, for records that outlive the request (a schedule's creator).
    public var json: JSONValue {
        switch self {
        case .user(let caller):
            return ["kind": "user", "uid": .integer(Int64(caller.uid)), "name": .string(caller.userName)]
        case .application(let name): return ["kind": "application", "name": .string(name)]
        case .device(let thing): return ["kind": "device", "name": .string(thing)]
        case .plugin(let id): return ["kind": "plugin", "name": .string(id)]
        case .schedule(let id, let creator): return ["kind": "schedule", "name": .string(id), "creator": creator.json]
        case .hub: return ["kind": "hub"]
        case .anonymous: return ["kind": "anonymous"]
        case .unidentified(let reason): return ["kind": "unidentified", "name": .string(reason)]
        case .cloud: return ["kind": "cloud"]
        case .member(let name, _): return ["kind": "member", "name": .string(name)]
        }
    }

    /// Reads ``json``. A user comes back with no groups: ``AccessRules`` looks them up again.
    public init?(json: JSONValue) {
        let name = json["name"]?.stringValue
        switch json["kind"]?.stringValue {
        case "user":
            guard let uid = json["uid"]?.integerValue, let name else { return nil }
            self = .user(Caller(uid: UInt32(clamping: uid), pid: 0, userName: name, groups: [], isHubUser: false))
        case "application":
            guard let name else { return nil }
            self = .application(name)
        case "device":
            guard let name else { return nil }
            self = .device(name)
        case "plugin":
            guard let name else { return nil }
            self = .plugin(name)
        case "schedule":
            guard let name, let creator = json["creator"].flatMap(Identity.init(json:)) else { return nil }
            self = .schedule(name, creator: creator)
        case "hub": self = .hub
        case "anonymous": self = .anonymous
        case "unidentified": self = .unidentified(name ?? "")
        case "cloud": self = .cloud
        case "member":
            guard let name else { return nil }
            self = .member(name, confirmed: false)
        default: return nil
        }
    }

    // MARK: - As the broker stamps it

    /// The MQTT 5 user property the hub's broker plugin sets on every message it accepts from a
    /// client, overwriting nothing: a client that sends it is refused (docs/security.md).
    public static let brokerStampProperty = "homehub-identity"

    /// Reads the broker's stamp: `hub`, `anonymous`, `application:NAME`, `device:THING`.
    public init?(brokerStamp text: String) {
        if text == "hub" {
            self = .hub
        } else if text == "anonymous" {
            self = .anonymous
        } else if text.hasPrefix("application:"), text.count > 12 {
            self = .application(String(text.dropFirst(12)))
        } else if text.hasPrefix("device:"), text.count > 7 {
            self = .device(String(text.dropFirst(7)))
        } else {
            return nil
        }
    }
}

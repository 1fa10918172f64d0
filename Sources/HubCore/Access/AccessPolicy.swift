/// Who is asking: the caller behind a control-socket connection (from SO_PEERCRED).
public struct Caller: Sendable, Equatable {
    public var uid: UInt32
    public var pid: Int32
    public var userName: String
    /// Names of the caller's primary and supplementary groups.
    public var groups: Set<String>
    /// The hub's own user (the account homehubd runs as) may do everything, like root.
    public var isHubUser: Bool

    public init(uid: UInt32, pid: Int32, userName: String, groups: Set<String>, isHubUser: Bool) {
        self.uid = uid
        self.pid = pid
        self.userName = userName
        self.groups = groups
        self.isHubUser = isHubUser
    }
}

/// What a request needs.
public enum Permission: String, Sendable, Comparable {
    /// Read state: status, things, shadows, events, audit.
    case read
    /// Change state: shadows, things, ordinary commands, schedules.
    case write
    /// Change a sensitive shadow's desired state, run a sensitive command (door unlock).
    case sensitive

    var rank: Int {
        switch self {
        case .read: return 0
        case .write: return 1
        case .sensitive: return 2
        }
    }

    public static func < (lhs: Permission, rhs: Permission) -> Bool { lhs.rank < rhs.rank }
}

/// Which groups may do what. Each level includes the ones below it: a member of a sensitive
/// group may also write and read, a member of a write group may also read.
public struct AccessPolicy: Sendable, Equatable {
    public var readGroups: [String]
    public var writeGroups: [String]
    public var sensitiveGroups: [String]

    public init(
        readGroups: [String] = ["homehub"], writeGroups: [String] = ["homehub"],
        sensitiveGroups: [String] = ["homehub-admin"]
    ) {
        self.readGroups = readGroups
        self.writeGroups = writeGroups
        self.sensitiveGroups = sensitiveGroups
    }

    public enum Decision: Sendable, Equatable {
        case allowed
        /// Denied, with a sentence naming the caller, what was needed and which groups give it.
        case denied(String)
    }

    /// The most a caller may do, from its groups; nil when it may not even read.
    public func role(of caller: Caller) -> Permission? {
        if caller.uid == 0 || caller.isHubUser { return .sensitive }
        if sensitiveGroups.contains(where: caller.groups.contains) { return .sensitive }
        if writeGroups.contains(where: caller.groups.contains) { return .write }
        if readGroups.contains(where: caller.groups.contains) { return .read }
        return nil
    }

    /// What gives `permission`, in words: `needs group 'homehub-admin'`.
    public func remedy(for permission: Permission) -> String {
        let granting: [String]
        switch permission {
        case .read: granting = readGroups + writeGroups + sensitiveGroups
        case .write: granting = writeGroups + sensitiveGroups
        case .sensitive: granting = sensitiveGroups
        }
        let groups = Array(Set(granting)).sorted()
        if groups.isEmpty { return "no group is allowed to; set [policy] in hub.toml" }
        let list = groups.map { "'\($0)'" }.joined(separator: ", ")
        return groups.count == 1 ? "needs group \(list)" : "needs one of the groups \(list)"
    }

    /// A route's check on the control socket: "may not …" says what the permission is for.
    public func decide(_ caller: Caller, needs permission: Permission) -> Decision {
        if let role = role(of: caller), role >= permission { return .allowed }
        return .denied(
            "user '\(caller.userName)' (uid \(caller.uid)) may not \(permission.action): \(remedy(for: permission))"
        )
    }
}

extension Permission {
    /// What the permission is for, completing "may not …".
    public var action: String {
        switch self {
        case .read: return "read hub state"
        case .write: return "change hub state"
        case .sensitive: return "change sensitive shadows or run sensitive commands"
        }
    }
}

/// What the hub knows of identities that can change while they act: applications' roles and
/// users' groups. The daemon implements it over its store and the system's user database.
public protocol IdentityDirectory: Sendable {
    /// An application's current role; nil when there is no such application (removed).
    func role(ofApplication name: String) -> Permission?
    /// A household member's current role; nil when there is no such member (removed).
    func role(ofMember name: String) -> Permission?
    /// A user as the system knows them now (groups looked up again), for identities that
    /// outlive their connection: the creator of a schedule.
    func current(_ caller: Caller) -> Caller
}

/// One rule for every path: what an identity may do, and a refusal that names the identity,
/// what was needed and how to get it (docs/security.md).
public struct AccessRules: Sendable {
    public var policy: AccessPolicy
    /// The role of MQTT clients that did not log in; nil where anonymous access is off.
    public var anonymousRole: Permission?
    /// The role of a request nobody vouched for (an external broker names no sender).
    public var unidentifiedRole: Permission?
    /// The role of changes and commands from AWS IoT Core (cloud sync): write, or sensitive
    /// with `[cloud] allow_sensitive`; nil without cloud sync.
    public var cloudRole: Permission?

    public init(
        policy: AccessPolicy, anonymousRole: Permission? = nil, unidentifiedRole: Permission? = .write,
        cloudRole: Permission? = nil
    ) {
        self.policy = policy
        self.anonymousRole = anonymousRole.map { min($0, .write) }
        self.unidentifiedRole = unidentifiedRole.map { min($0, .write) }
        self.cloudRole = cloudRole
    }

    /// The most `identity` may do on `thing` (any thing when nil); nil: nothing at all.
    public func role(of identity: Identity, on thing: String?, directory: any IdentityDirectory) -> Permission? {
        switch identity {
        case .hub, .plugin: return .sensitive
        case .user(let caller): return policy.role(of: caller.groups.isEmpty ? directory.current(caller) : caller)
        case .application(let name): return directory.role(ofApplication: name)
        case .device(let own): return thing == own ? .sensitive : nil
        case .schedule(_, let creator): return role(of: creator, on: thing, directory: directory)
        case .anonymous: return anonymousRole
        case .unidentified: return unidentifiedRole
        case .cloud: return cloudRole
        case .member(let name, let confirmed):
            // Sensitive only with a password given again a moment ago (docs/dashboard.md).
            return directory.role(ofMember: name).map { confirmed ? $0 : min($0, .write) }
        }
    }

    /// How long a member's password confirmation lets them act on sensitive things.
    public static let confirmationMinutes = 5

    /// Allowed, or denied with a sentence: "`identity` may not `action`: `remedy`".
    public func decide(
        _ identity: Identity, needs permission: Permission, on thing: String?, action: String,
        directory: any IdentityDirectory
    ) -> AccessPolicy.Decision {
        if let role = role(of: identity, on: thing, directory: directory), role >= permission { return .allowed }
        return .denied("\(identity.phrase) may not \(action): \(remedy(identity, permission, on: thing, directory))")
    }

    func remedy(_ identity: Identity, _ permission: Permission, on thing: String?, _ directory: any IdentityDirectory)
        -> String
    {
        switch identity {
        case .hub, .plugin: return "the hub refused its own request"
        case .user: return policy.remedy(for: permission)
        case .application(let name):
            guard let role = directory.role(ofApplication: name) else {
                return "there is no such application (hubctl apps list)"
            }
            return
                "its role is '\(role.rawValue)'; needs role '\(permission.rawValue)' (hubctl apps add NAME --role \(permission.rawValue))"
        case .device(let own):
            return "a device acts on its own thing '\(own)' only"
        case .schedule(_, let creator):
            return "its creator no longer may: \(remedy(creator, permission, on: thing, directory))"
        case .anonymous:
            return anonymousRole == nil
                ? "anonymous access is off; log in with an application's credentials (hubctl apps add NAME --role ROLE)"
                : "anonymous clients have role '\(anonymousRole!.rawValue)'; log in as an application with role '\(permission.rawValue)' (hubctl apps add NAME --role \(permission.rawValue))"
        case .unidentified:
            return
                "nothing vouches for who sent it (an external broker names no sender); use the control socket, or the embedded broker, which names every sender"
        case .member(let name, let confirmed):
            guard let role = directory.role(ofMember: name) else {
                return "there is no such member any more (hubctl users list)"
            }
            if role >= permission, !confirmed {
                return
                    "confirm your password first: a sensitive action needs it given within the last \(Self.confirmationMinutes) minutes"
            }
            return
                "their role is '\(role.rawValue)'; needs role '\(permission.rawValue)' (hubctl users add NAME --role \(permission.rawValue))"
        case .cloud:
            return cloudRole == nil
                ? "cloud sync is off"
                : "cloud changes have role '\(cloudRole!.rawValue)'; set [cloud] allow_sensitive = true in hub.toml to let them reach sensitive shadows and commands"
        }
    }
}

extension DeviceType {
    /// What changing a shadow's desired state needs: sensitive for a shadow the type marks so.
    public func permission(toChange shadow: String?) -> Permission {
        shadow.map(sensitiveShadows.contains) == true ? .sensitive : .write
    }

    /// What running a command needs.
    public func permission(toRun command: String) -> Permission {
        commands[command]?.sensitive == true ? .sensitive : .write
    }
}

import HubAPI
public import HubCore
public import HubStore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The identities that change while the hub runs: applications (a cache of the store's table,
/// written after the store) and users' groups (looked up in the system's database when an
/// identity outlives its connection). Never held across a suspension.
public final class IdentityTable: IdentityDirectory {
    private let applications: Mutex<[String: ApplicationRecord]>
    private let members: Mutex<[String: MemberRecord]>

    public init(applications: [ApplicationRecord], members: [MemberRecord] = []) {
        self.applications = Mutex(Dictionary(uniqueKeysWithValues: applications.map { ($0.name, $0) }))
        self.members = Mutex(Dictionary(uniqueKeysWithValues: members.map { ($0.name, $0) }))
    }

    public func role(ofMember name: String) -> Permission? { members.withLock { $0[name]?.role } }
    public func member(_ name: String) -> MemberRecord? { members.withLock { $0[name] } }
    public func allMembers() -> [MemberRecord] { members.withLock { $0.values.sorted { $0.name < $1.name } } }
    public func save(_ member: MemberRecord) { members.withLock { $0[member.name] = member } }
    public func removeMember(_ name: String) { _ = members.withLock { $0.removeValue(forKey: name) } }

    public func role(ofApplication name: String) -> Permission? { applications.withLock { $0[name]?.role } }

    public func application(_ name: String) -> ApplicationRecord? { applications.withLock { $0[name] } }

    /// The application that holds an access key, with its secret (for SigV4).
    public func application(accessKey: String) -> ApplicationRecord? {
        applications.withLock { $0.values.first { $0.accessKeyID == accessKey } }
    }

    public func allApplications() -> [ApplicationRecord] {
        applications.withLock { $0.values.sorted { $0.name < $1.name } }
    }

    public func save(_ application: ApplicationRecord) { applications.withLock { $0[application.name] = application } }

    public func remove(_ name: String) { _ = applications.withLock { $0.removeValue(forKey: name) } }

    /// The user's groups as the system has them now (the user may have left a group).
    public func current(_ caller: Caller) -> Caller {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(caller.uid, &entry, &buffer, buffer.count, &result) == 0, result != nil else {
            // No such user any more: no groups, so no rights (but root stays root).
            return Caller(
                uid: caller.uid, pid: 0, userName: caller.userName, groups: [], isHubUser: caller.uid == geteuid())
        }
        var resolved = CallerIdentity.resolve(PeerCredentials(pid: 0, uid: caller.uid, gid: entry.pw_gid))
        resolved.pid = caller.pid
        return resolved
    }
}

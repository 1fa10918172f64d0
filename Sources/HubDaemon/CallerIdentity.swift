import HubAPI
import HubCore

#if canImport(Glibc)
    import Glibc
#endif

/// Turns socket peer credentials into a ``Caller``: user name and group names from the
/// system's user database (getpwuid_r, getgrouplist).
enum CallerIdentity {
    static func resolve(_ peer: PeerCredentials) -> Caller {
        var name = "uid \(peer.uid)"
        var groups: Set<String> = []
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(peer.uid, &entry, &buffer, buffer.count, &result) == 0, result != nil,
            let userName = entry.pw_name
        {
            name = String(cString: userName)
            var count: Int32 = 64
            var ids = [gid_t](repeating: 0, count: Int(count))
            if getgrouplist(userName, peer.gid, &ids, &count) == -1 {
                ids = [gid_t](repeating: 0, count: Int(count))
                _ = getgrouplist(userName, peer.gid, &ids, &count)
            }
            for id in ids.prefix(Int(max(0, count))) { if let group = groupName(id) { groups.insert(group) } }
        }
        // The connection's own gid counts even when the user database does not list it.
        if let group = groupName(peer.gid) { groups.insert(group) }
        return Caller(uid: peer.uid, pid: peer.pid, userName: name, groups: groups, isHubUser: peer.uid == geteuid())
    }

    static func groupName(_ id: gid_t) -> String? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getgrgid_r(id, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.gr_name
        else {
            return nil
        }
        return String(cString: name)
    }
}

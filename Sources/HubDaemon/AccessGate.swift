public import HubCore
public import HubStore
public import Logging
import Metrics

/// The one place every path asks "may this identity do this?" and records the answer
/// (docs/security.md). The shadow service, the command ledger and the schedules call it with
/// the identity and the path of each request; refusals are logged, counted
/// (`homehub_access_denied_total{path}`) and audited, and so are accepted changes of desired
/// state that no other layer audits.
public final class AccessGate: Sendable {
    public let rules: AccessRules
    public let directory: any IdentityDirectory
    let store: HubStore
    let clock: any HubClock
    let logger: Logger

    public init(
        rules: AccessRules, directory: any IdentityDirectory, store: HubStore, clock: any HubClock, logger: Logger
    ) {
        self.rules = rules
        self.directory = directory
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    /// nil when allowed; otherwise the refusal's sentence.
    public func refusal(_ identity: Identity, needs permission: Permission, on thing: String, action: String)
        -> String?
    {
        switch rules.decide(identity, needs: permission, on: thing, action: action, directory: directory) {
        case .allowed: return nil
        case .denied(let reason): return reason
        }
    }

    /// What changing a shadow's desired state (or deleting the shadow) needs, and in words.
    public static func shadowChange(_ id: ShadowID, type: DeviceType?) -> (Permission, String) {
        let permission = type?.permission(toChange: id.shadowName) ?? .write
        let shadow = id.shadowName.map { "'\($0)'" } ?? "(classic)"
        return (
            permission,
            permission == .sensitive
                ? "change the sensitive shadow \(shadow) of '\(id.thingName)'"
                : "change the shadow \(shadow) of '\(id.thingName)'"
        )
    }

    /// A shadow as the audit log names it, as the control API does: `thing` or `thing/shadow`.
    public static func target(_ id: ShadowID) -> String {
        id.shadowName.map { "\(id.thingName)/\($0)" } ?? id.thingName
    }

    /// Records a refusal: a log line, the counter, an audit row.
    public func refused(
        _ identity: Identity, path: String, action: String, target: String, reason: String, status: Int = 403
    ) {
        Counter(label: "homehub_access_denied_total", dimensions: [("path", path)]).increment()
        logger.warning(
            "refused",
            metadata: ["identity": "\(identity)", "path": "\(path)", "target": "\(target)", "reason": "\(reason)"])
        audit(identity, path: path, action: action, target: target, result: status, detail: reason)
    }

    /// Queues an audit row (in the group commit, after the writes queued before it).
    public func audit(
        _ identity: Identity, path: String, action: String, target: String, result: Int, detail: String?
    ) {
        var uid: UInt32?
        var user: String?
        var pid: Int32?
        if case .user(let caller) = identity {
            uid = caller.uid
            user = caller.userName
            pid = caller.pid == 0 ? nil : caller.pid
        }
        store.enqueueAudit(
            AuditEntry(
                time: clock.epochSeconds(), uid: uid, user: user, pid: pid, action: action, target: target,
                result: result, detail: detail.map { String($0.prefix(1000)) }, identity: identity.description,
                path: path))
    }
}

import HubCore
import HubCrypto
import Synchronization

/// The dashboard's sessions and sign-in limits (docs/dashboard.md). In memory: a restart of
/// the hub signs everyone out. Bounded: at most ``maxSessions`` (the oldest goes), and the
/// failure counters at most ``maxCounters`` keys.
final class MemberSessions: Sendable {
    struct Session: Sendable {
        var member: String
        var csrf: String
        var createdAt: Int64
        var lastSeen: Int64
        var confirmedAt: Int64?
    }

    /// A session ends after this long unused, and this long after sign-in whatever happens.
    static let idleSeconds: Int64 = 12 * 3600
    static let lifetimeSeconds: Int64 = 7 * 86400
    static let maxSessions = 1000
    /// Failed sign-ins allowed per member and per address within the window.
    static let maxFailures = 5
    static let failureWindowSeconds: Int64 = 15 * 60
    static let maxCounters = 10_000

    private struct State {
        var sessions: [String: Session] = [:]
        var failures: [String: [Int64]] = [:]
    }

    private let state = Mutex(State())

    /// A new session: its token (the cookie) and its CSRF token.
    func create(member: String, now: Int64) -> (token: String, csrf: String) {
        let token = BrokerPassword.generate() + BrokerPassword.generate()
        let csrf = BrokerPassword.generate()
        state.withLock { state in
            if state.sessions.count >= Self.maxSessions,
                let oldest = state.sessions.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key
            {
                state.sessions[oldest] = nil
            }
            state.sessions[token] = Session(member: member, csrf: csrf, createdAt: now, lastSeen: now, confirmedAt: now)
        }
        return (token, csrf)
    }

    /// The live session of a token (touched), or nil when there is none or it expired.
    func session(_ token: String, now: Int64) -> Session? {
        state.withLock { state in
            guard var session = state.sessions[token] else { return nil }
            if now - session.lastSeen > Self.idleSeconds || now - session.createdAt > Self.lifetimeSeconds {
                state.sessions[token] = nil
                return nil
            }
            session.lastSeen = now
            state.sessions[token] = session
            return session
        }
    }

    func confirm(_ token: String, now: Int64) {
        state.withLock { $0.sessions[token]?.confirmedAt = now }
    }

    func revoke(_ token: String) { _ = state.withLock { $0.sessions.removeValue(forKey: token) } }

    /// Every session of a member ends (a new password, removal).
    func revokeAll(of member: String) {
        state.withLock { state in state.sessions = state.sessions.filter { $0.value.member != member } }
    }

    /// Why a sign-in may not be tried now, or nil.
    func refusal(member: String, address: String, now: Int64) -> String? {
        state.withLock { state in
            for key in ["member:\(member)", "address:\(address)"] {
                let recent = (state.failures[key] ?? []).filter { now - $0 < Self.failureWindowSeconds }
                state.failures[key] = recent.isEmpty ? nil : recent
                if recent.count >= Self.maxFailures, let first = recent.first {
                    let wait = Self.failureWindowSeconds - (now - first)
                    return
                        "too many failed sign-ins for this \(key.hasPrefix("member") ? "name" : "address"); try again in \(wait / 60 + 1) minutes"
                }
            }
            return nil
        }
    }

    func failed(member: String, address: String, now: Int64) {
        state.withLock { state in
            if state.failures.count >= Self.maxCounters { state.failures.removeAll() }
            for key in ["member:\(member)", "address:\(address)"] { state.failures[key, default: []].append(now) }
        }
    }

    func succeeded(member: String) {
        _ = state.withLock { $0.failures.removeValue(forKey: "member:\(member)") }
    }
}

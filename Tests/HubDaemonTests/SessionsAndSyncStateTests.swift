import Foundation
import HubCore
import HubCrypto
import Testing

@testable import HubDaemon

/// What the dashboard's sessions and cloud sync's bookkeeping promise, with time passed in.
@Suite struct SessionsAndSyncStateTests {
    @Test func aMemberPasswordVerifiesOnlyItselfAndOnlyWithSaneParameters() {
        let hash = MemberPassword.hash("a long passphrase")
        #expect(hash.hasPrefix("$scrypt$ln=15,r=8,p=1$"))
        #expect(MemberPassword.verify("a long passphrase", against: hash))
        #expect(!MemberPassword.verify("a long passphrasE", against: hash))
        #expect(MemberPassword.hash("a long passphrase") != hash)  // a fresh salt each time
        // A hash whose cost was lowered is not a hash the hub made.
        #expect(!MemberPassword.verify("a long passphrase", against: hash.replacingFirst("ln=15", with: "ln=4")))
        #expect(!MemberPassword.verify("x", against: "$7$101$abc$def"))
        #expect(MemberPassword.weakness("short") != nil && MemberPassword.weakness("long enough!") == nil)
    }

    @Test func sessionsEndWhenIdleTooLongAfterTheirLifetimeAndWithTheirMember() {
        let sessions = MemberSessions()
        let (token, csrf) = sessions.create(member: "anna", now: 0)
        #expect(sessions.session(token, now: 60)?.csrf == csrf)
        // Used every 11 hours, it lives until its lifetime ends.
        var now: Int64 = 60
        while now + 11 * 3600 < MemberSessions.lifetimeSeconds {
            now += 11 * 3600
            #expect(sessions.session(token, now: now) != nil)
        }
        #expect(sessions.session(token, now: MemberSessions.lifetimeSeconds + 1) == nil)
        let idle = sessions.create(member: "anna", now: 0).token
        #expect(sessions.session(idle, now: MemberSessions.idleSeconds + 1) == nil)
        let first = sessions.create(member: "bob", now: 0).token
        let second = sessions.create(member: "bob", now: 0).token
        let other = sessions.create(member: "anna", now: 0).token
        sessions.revokeAll(of: "bob")
        #expect(sessions.session(first, now: 1) == nil && sessions.session(second, now: 1) == nil)
        #expect(sessions.session(other, now: 1) != nil)
    }

    @Test func signInsAreLimitedPerNameAndPerAddressWithinTheWindow() {
        let sessions = MemberSessions()
        for _ in 0..<MemberSessions.maxFailures { sessions.failed(member: "bob", address: "10.0.0.9", now: 100) }
        #expect(sessions.refusal(member: "bob", address: "10.0.0.1", now: 101)?.contains("this name") == true)
        #expect(sessions.refusal(member: "anna", address: "10.0.0.9", now: 101)?.contains("this address") == true)
        #expect(sessions.refusal(member: "anna", address: "10.0.0.1", now: 101) == nil)
        #expect(
            sessions.refusal(member: "bob", address: "10.0.0.1", now: 100 + MemberSessions.failureWindowSeconds) == nil)
    }

    @Test func theCloudThingBudgetIsFiveUpdatesASecondWithBurstsOfFive() {
        let state = CloudSyncState(rate: 100)
        let second: UInt64 = 1_000_000_000
        for _ in 0..<5 { #expect(state.thingBudget("home1-livingroom", now: second) == nil) }
        let wait = state.thingBudget("home1-livingroom", now: second)
        #expect(wait != nil && wait! > 0.19 && wait! <= 0.2)
        #expect(state.thingBudget("home1-frontdoor", now: second) == nil)  // each cloud thing its own
        #expect(state.thingBudget("home1-livingroom", now: second + second / 5) == nil)  // 200 ms later: one more
    }

    @Test func aCloudCopyNeverGoesBackAndAnotherClientsUpdateFollowsItOrAsksForTheWhole() async throws {
        let state = CloudSyncState(rate: 100)
        let id = try ShadowID(thingName: "livingroom", shadowName: "climate")
        state.follow(id, cloudThing: "home1-livingroom", direction: .both)
        let v5 = CloudSyncState.Cloud(state: .init(desired: ["t": 20]), version: 5, commandStamp: nil)
        #expect(state.cloudChanged(id, v5))
        let v4 = CloudSyncState.Cloud(state: .init(desired: ["t": 19]), version: 4, commandStamp: nil)
        #expect(!state.cloudChanged(id, v4))  // AWS may deliver out of order: the older is ignored
        #expect(state.cloud(id)?.state.desired == ["t": 20])
        #expect(state.applyCloudUpdate(id, ["desired": ["t": 21, "mode": "eco"]], version: 6) == .applied)
        #expect(state.cloud(id)?.state.desired == ["t": 21, "mode": "eco"] && state.cloud(id)?.version == 6)
        #expect(state.applyCloudUpdate(id, ["desired": ["t": 22]], version: 6) == .known)
        #expect(state.applyCloudUpdate(id, ["desired": ["t": 23]], version: 9) == .gap)
        #expect(state.cloud(id)?.state.desired["t"] == 21)
    }
}

extension String {
    fileprivate func replacingFirst(_ text: String, with replacement: String) -> String {
        guard let range = range(of: text) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}

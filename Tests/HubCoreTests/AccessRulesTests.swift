import HubCore
import Testing

/// The one rule every path asks (docs/security.md), as a pure function of identity and role.
@Suite struct AccessRulesTests {
    final class Directory: IdentityDirectory, @unchecked Sendable {
        // Written only before the rules read it in each test.
        var applications: [String: Permission] = ["kitchen": .write, "opener": .sensitive, "viewer": .read]
        var groups: [UInt32: Set<String>] = [:]
        var members: [String: Permission] = ["anna": .write, "bob": .sensitive]
        func role(ofApplication name: String) -> Permission? { applications[name] }
        func role(ofMember name: String) -> Permission? { members[name] }
        func current(_ caller: Caller) -> Caller {
            var refreshed = caller
            refreshed.groups = groups[caller.uid] ?? []
            return refreshed
        }
    }

    let rules = AccessRules(policy: AccessPolicy(), anonymousRole: .write)
    let directory = Directory()
    let lock = "change the sensitive shadow 'lock' of 'frontdoor'"

    func user(_ groups: Set<String>, uid: UInt32 = 1000) -> Identity {
        .user(Caller(uid: uid, pid: 7, userName: "guest", groups: groups, isHubUser: false))
    }

    func decide(_ identity: Identity, _ permission: Permission, on thing: String = "frontdoor") -> AccessPolicy.Decision
    {
        rules.decide(identity, needs: permission, on: thing, action: lock, directory: directory)
    }

    @Test func aWriteUserIsRefusedTheLockWithTheGroupThatWouldAllowIt() {
        #expect(
            decide(user(["homehub"]), .sensitive)
                == .denied(
                    "user 'guest' may not change the sensitive shadow 'lock' of 'frontdoor': needs group 'homehub-admin'"
                ))
        #expect(decide(user(["homehub-admin"]), .sensitive) == .allowed)
        #expect(decide(user(["homehub"]), .write) == .allowed)
    }

    @Test func applicationsHaveTheirCurrentRole() {
        #expect(decide(.application("opener"), .sensitive) == .allowed)
        #expect(decide(.application("kitchen"), .write) == .allowed)
        guard case .denied(let reason) = decide(.application("kitchen"), .sensitive) else {
            Issue.record("a write application may not unlock")
            return
        }
        #expect(reason.contains("application 'kitchen'") && reason.contains("needs role 'sensitive'"))
        #expect(decide(.application("viewer"), .write) != .allowed)
        directory.applications["opener"] = nil
        guard case .denied(let gone) = decide(.application("opener"), .sensitive) else {
            Issue.record("a removed application may do nothing")
            return
        }
        #expect(gone.contains("there is no such application"))
    }

    @Test func aDeviceActsOnItsOwnThingOnly() {
        #expect(decide(.device("frontdoor"), .sensitive) == .allowed)
        #expect(decide(.device("porch"), .write) != .allowed)
    }

    @Test func anonymousAndUnidentifiedSendersAreNeverSensitive() {
        let generous = AccessRules(policy: AccessPolicy(), anonymousRole: .sensitive, unidentifiedRole: .sensitive)
        for identity in [Identity.anonymous, .unidentified("an external broker")] {
            #expect(generous.role(of: identity, on: "frontdoor", directory: directory) == .write)
            #expect(decide(identity, .sensitive) != .allowed)
        }
        let closed = AccessRules(policy: AccessPolicy(), anonymousRole: nil)
        #expect(closed.decide(.anonymous, needs: .read, on: "x", action: "read", directory: directory) != .allowed)
    }

    @Test func aScheduleActsWithItsCreatorsRightsAsTheyAreNow() {
        let creator = Identity.user(Caller(uid: 1001, pid: 0, userName: "ann", groups: [], isHubUser: false))
        let schedule = Identity.schedule("night", creator: creator)
        directory.groups[1001] = ["homehub-admin"]
        #expect(decide(schedule, .sensitive) == .allowed)
        directory.groups[1001] = ["homehub"]
        guard case .denied(let reason) = decide(schedule, .sensitive) else {
            Issue.record("a schedule whose creator left the sensitive group may not unlock")
            return
        }
        #expect(reason.hasPrefix("schedule 'night' (acting for user 'ann') may not"))
        #expect(reason.contains("its creator no longer may: needs group 'homehub-admin'"))
    }

    @Test func identitiesRoundTripAsStoredAndAsTheBrokerStampsThem() {
        let identities: [Identity] = [
            .hub, .application("kitchen"), .device("frontdoor"), .plugin("homehub.doorlock"), .anonymous,
            .schedule("s1", creator: .application("kitchen")),
        ]
        for identity in identities { #expect(Identity(json: identity.json) == identity) }
        #expect(Identity(brokerStamp: "application:kitchen") == .application("kitchen"))
        #expect(Identity(brokerStamp: "device:frontdoor") == .device("frontdoor"))
        #expect(Identity(brokerStamp: "hub") == .hub)
        #expect(Identity(brokerStamp: "application:") == nil)
        #expect(Identity(brokerStamp: "root") == nil)
    }

    @Test func aTypeSaysWhichShadowsAndCommandsAreSensitive() {
        let type = DeviceType(
            name: "doorlock", shadows: [("lock", [:]), ("battery", [:])],
            commands: ["unlock": CommandSchema(sensitive: true), "lock": CommandSchema()],
            sensitiveShadows: ["lock"])
        #expect(type.permission(toChange: "lock") == .sensitive)
        #expect(type.permission(toChange: "battery") == .write)
        #expect(type.permission(toChange: nil) == .write)
        #expect(type.permission(toRun: "unlock") == .sensitive)
        #expect(type.permission(toRun: "lock") == .write)
    }
}

/// Who may publish on a topic that is not a shadow request (AWS's Publish over HTTPS): the same
/// rule the broker plugin applies on MQTT.
@Suite struct TopicRulesTests {
    func role(_ granted: Permission?) -> (Identity, String?) -> Permission? { { _, _ in granted } }

    @Test func theHubsTopicsAndTheShadowServicesAnswersAreNobodyElses() {
        let kitchen = Identity.application("kitchen")
        for topic in [
            "$homehub/broker/denied", "$CONTROL/dynamic-security/v1", "$SYS/broker/uptime",
            "$aws/things/frontdoor/shadow/name/lock/update/delta", "$aws/things/lamp/shadow/update/accepted",
            "$aws/things/lamp/shadow/get/rejected", "$aws/things/lamp/shadow/update/documents",
        ] {
            #expect(TopicRules.refusal(topic, for: kitchen, role: role(.sensitive)) != nil, "\(topic)")
        }
        #expect(TopicRules.refusal("home/kitchen/note", for: kitchen, role: role(.write)) == nil)
        #expect(TopicRules.refusal("cmd/lamp/response", for: kitchen, role: role(.write)) == nil)
    }

    @Test func readersAndStrangersDoNotPublishAndWildcardsAreNotTopics() {
        #expect(
            TopicRules.refusal("home/x", for: .application("viewer"), role: role(.read))?.contains("needs 'write'")
                == true)
        #expect(TopicRules.refusal("home/x", for: .application("gone"), role: role(nil))?.contains("no role") == true)
        for topic in ["", "home/+", "home/#", String(repeating: "a", count: 257)] {
            #expect(TopicRules.refusal(topic, for: .hub, role: role(.sensitive))?.contains("not a topic") == true)
        }
    }

    @Test func aMemberActsOnSensitiveThingsOnlyWithThePasswordGivenAgain() {
        let rules = AccessRules(policy: AccessPolicy())
        let directory = AccessRulesTests.Directory()
        func decide(_ identity: Identity, _ permission: Permission) -> AccessPolicy.Decision {
            rules.decide(
                identity, needs: permission, on: "frontdoor", action: "unlock 'frontdoor'", directory: directory)
        }
        #expect(decide(.member("bob", confirmed: true), .sensitive) == .allowed)
        guard case .denied(let unconfirmed) = decide(.member("bob", confirmed: false), .sensitive) else {
            Issue.record("an unconfirmed member unlocked")
            return
        }
        #expect(unconfirmed.contains("confirm your password first"))
        #expect(decide(.member("bob", confirmed: false), .write) == .allowed)
        guard case .denied(let write) = decide(.member("anna", confirmed: true), .sensitive) else {
            Issue.record("a write member unlocked")
            return
        }
        #expect(write.contains("their role is 'write'; needs role 'sensitive'"))
        guard case .denied(let gone) = decide(.member("carol", confirmed: true), .read) else {
            Issue.record("a removed member read")
            return
        }
        #expect(gone.contains("no such member"))
    }
}

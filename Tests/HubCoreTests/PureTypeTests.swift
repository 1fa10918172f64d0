import Testing

@testable import HubCore

@Suite struct RateLimiterTests {
    @Test func allowsTheBurstThenTheSustainedRate() {
        var limiter = RateLimiter(requestsPerSecond: 10, burst: 20)
        let start: UInt64 = 1_000_000_000
        let burst = (0..<25).filter { _ in limiter.allow("k", at: start) }.count
        #expect(burst == 20)
        // Half a second later: five more tokens, not ten.
        let later = (0..<10).filter { _ in limiter.allow("k", at: start + 500_000_000) }.count
        #expect(later == 5)
        let other = limiter.allow("other", at: start)
        #expect(other, "buckets are per key")
    }

    @Test func zeroMeansNoLimit() {
        var limiter = RateLimiter(requestsPerSecond: 0)
        var allowed = 0
        for _ in 0..<10_000 where limiter.allow("k", at: 0) { allowed += 1 }
        #expect(allowed == 10_000)
    }
}

@Suite struct LineFramerTests {
    @Test func linesSplitAcrossReadsAreJoined() {
        var framer = LineFramer(maxLineBytes: 100)
        var events: [LineFramer.Event] = []
        for chunk in ["ab", "c\nde", "f\n\ng"] { framer.feed(Array(chunk.utf8)) { events.append($0) } }
        #expect(events == [.line(Array("abc".utf8)), .line(Array("def".utf8)), .line([])])
    }

    @Test func aLineOverTheLimitIsReportedOnceAndTheNextLineIsClean() {
        var framer = LineFramer(maxLineBytes: 4)
        var events: [LineFramer.Event] = []
        framer.feed(Array("abcdef".utf8)) { events.append($0) }
        framer.feed(Array("ghij\nok\n".utf8)) { events.append($0) }
        #expect(events == [.lineTooLong(6), .line(Array("ok".utf8))])
    }
}

@Suite struct ShadowTopicTests {
    @Test func parsesClassicAndNamedRequestTopics() {
        let classic = ShadowTopic("$aws/things/lamp/shadow/update")
        #expect(classic?.thingName == "lamp" && classic?.shadowName == nil && classic?.operation == .update)
        let named = ShadowTopic("$aws/things/lamp/shadow/name/power/get")
        #expect(named?.shadowName == "power" && named?.operation == .get)
        #expect(named?.rejectedTopic == "$aws/things/lamp/shadow/name/power/get/rejected")
        #expect(named?.prefix == ShadowID(unchecked: "lamp", shadowName: "power").topicPrefix)
    }

    @Test func answersAndOtherTopicsAreNotRequests() {
        for topic in [
            "$aws/things/lamp/shadow/update/accepted", "$aws/things/lamp/shadow/list", "aws/things/lamp/shadow/get",
            "$aws/things/lamp/shadow/named/x/get", "$aws/things/lamp/shadow",
        ] {
            #expect(ShadowTopic(topic) == nil, "\(topic)")
        }
    }
}

@Suite struct AccessPolicyTests {
    let policy = AccessPolicy()

    func caller(_ groups: Set<String>, uid: UInt32 = 1000) -> Caller {
        Caller(uid: uid, pid: 1, userName: "guest", groups: groups, isHubUser: false)
    }

    @Test func eachLevelIncludesTheOnesBelow() {
        #expect(policy.decide(caller(["homehub-admin"]), needs: .read) == .allowed)
        #expect(policy.decide(caller(["homehub-admin"]), needs: .sensitive) == .allowed)
        #expect(policy.decide(caller(["homehub"]), needs: .write) == .allowed)
        #expect(policy.decide(caller([]), needs: .read) != .allowed)
        #expect(policy.decide(caller([], uid: 0), needs: .sensitive) == .allowed)
    }

    @Test func aRefusalNamesTheCallerWhatWasNeededAndTheGroup() {
        guard case .denied(let reason) = policy.decide(caller(["homehub"]), needs: .sensitive) else {
            Issue.record("a member of homehub only may not run sensitive commands")
            return
        }
        #expect(reason.contains("'guest'") && reason.contains("sensitive") && reason.contains("'homehub-admin'"))
    }
}

import HubCore
import Testing

/// docs/cloud.md's merge, rule by rule.
struct ShadowSyncTests {
    typealias State = ShadowSync.State

    @Test func aLeafChangedOnOneSideTakesThatSide() {
        let base = State(desired: ["t": 20], reported: ["t": 19])
        let outcome = ShadowSync.merge(
            base: base, hub: State(desired: ["t": 20], reported: ["t": 19.5]),
            cloud: State(desired: ["t": 22], reported: ["t": 19]))
        #expect(outcome.merged == State(desired: ["t": 22], reported: ["t": 19.5]))
        #expect(outcome.toHub == ["desired": ["t": 22]])
        #expect(outcome.toCloud == ["reported": ["t": 19.5]])
    }

    @Test func bothChangedReportedFromTheHubDesiredFromTheCloud() {
        let base = State(desired: ["t": 20, "mode": "heat"], reported: ["t": 19])
        let outcome = ShadowSync.merge(
            base: base, hub: State(desired: ["t": 21, "mode": "heat"], reported: ["t": 18]),
            cloud: State(desired: ["t": 23, "mode": "heat"], reported: ["t": 25]))
        #expect(outcome.merged == State(desired: ["t": 23, "mode": "heat"], reported: ["t": 18]))
        #expect(outcome.toHub == ["desired": ["t": 23]])
        #expect(outcome.toCloud == ["reported": ["t": 18]])
        // Unless configured otherwise.
        let hubFirst = ShadowSync.merge(
            base: base, hub: State(desired: ["t": 21, "mode": "heat"], reported: ["t": 18]),
            cloud: State(desired: ["t": 23, "mode": "heat"], reported: ["t": 25]),
            prefer: .init(desired: .hub, reported: .cloud))
        #expect(hubFirst.merged == State(desired: ["t": 21, "mode": "heat"], reported: ["t": 25]))
    }

    @Test func aDeletionOnOneSideIsANullForTheOther() {
        let base = State(desired: ["t": 20, "boost": 60])
        let outcome = ShadowSync.merge(
            base: base, hub: State(desired: ["t": 20]), cloud: State(desired: ["t": 20, "boost": 60]))
        #expect(outcome.toCloud == ["desired": ["boost": .null]] && outcome.toHub == nil)
        #expect(outcome.merged.desired == ["t": 20])
    }

    @Test func objectsChangedOnBothSidesMergeKeyByKey() {
        let base = State(desired: ["schedule": ["mon": 20, "tue": 20]])
        let outcome = ShadowSync.merge(
            base: base, hub: State(desired: ["schedule": ["mon": 21, "tue": 20]]),
            cloud: State(desired: ["schedule": ["mon": 20, "tue": 18]]))
        #expect(outcome.merged.desired == ["schedule": ["mon": 21, "tue": 18]])
        #expect(outcome.toHub == ["desired": ["schedule": ["tue": 18]]])
        #expect(outcome.toCloud == ["desired": ["schedule": ["mon": 21]]])
    }

    @Test func theFirstSyncIsTheUnionWithConflictsByPreference() {
        let outcome = ShadowSync.merge(
            base: nil, hub: State(desired: ["t": 20], reported: ["on": true]),
            cloud: State(desired: ["t": 22, "mode": "eco"], reported: ["on": false]))
        #expect(outcome.merged == State(desired: ["t": 22, "mode": "eco"], reported: ["on": true]))
        #expect(outcome.toHub == ["desired": ["t": 22, "mode": "eco"]])
        #expect(outcome.toCloud == ["reported": ["on": true]])
    }

    @Test func oneWayDirectionsMakeTheirSourceTheMaster() {
        let base = State(desired: ["t": 20])
        let hub = State(desired: ["t": 21], reported: ["on": true])
        let cloud = State(desired: ["t": 20, "x": 1])
        let up = ShadowSync.merge(base: base, hub: hub, cloud: cloud, direction: .toCloud)
        #expect(up.toHub == nil && up.merged == hub)
        #expect(up.toCloud == ["desired": ["t": 21, "x": .null], "reported": ["on": true]])
        let down = ShadowSync.merge(base: base, hub: hub, cloud: cloud, direction: .fromCloud)
        #expect(down.toCloud == nil && down.merged == cloud)
        #expect(down.toHub == ["desired": ["t": 20, "x": 1], "reported": ["on": .null]])
    }

    @Test func agreementNeedsNothing() {
        let state = State(desired: ["t": 20], reported: ["t": 20])
        let outcome = ShadowSync.merge(base: nil, hub: state, cloud: state)
        #expect(outcome.toHub == nil && outcome.toCloud == nil && outcome.merged == state)
    }
}

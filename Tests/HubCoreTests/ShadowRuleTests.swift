import HubCore
import Testing

/// One test (or a few) per rule of spec/aws-shadow.md and docs/shadows.md.
struct ShadowRuleTests {
    let engine = ShadowEngine()
    let classic = try! ShadowID(thingName: "lamp")

    // MARK: merge (§4.2)

    @Test func partialUpdateMergesNestedObjects() throws {
        let record = try engine.applying([
            ["state": ["desired": ["color": ["r": 255, "g": 255, "b": 0]]]],
            ["state": ["desired": ["color": ["r": 10]]]],
        ])
        #expect(record?.desired == ["color": ["r": 10, "g": 255, "b": 0]])
    }

    @Test func nullDeletesAKeyAndItsMetadataAndIgnoresMissingKeys() throws {
        let record = try engine.applying([
            ["state": ["reported": ["a": 1, "b": ["c": 2]]]],
            ["state": ["reported": ["b": nil, "missing": nil]]],
        ])
        #expect(record?.reported == ["a": 1])
        #expect(record?.reportedMetadata == ["a": ["timestamp": 100]])
    }

    @Test func sectionNullRemovesTheSection() throws {
        let record = try engine.applying([
            ["state": ["desired": ["a": 1], "reported": ["a": 2]]],
            ["state": ["desired": nil]],
        ])
        #expect(record?.desired == nil && record?.desiredMetadata == nil)
        #expect(record?.reported == ["a": 2])
    }

    @Test func stateNullClearsBothSectionsButKeepsTheShadow() throws {
        let first = try engine.update(nil, ["state": ["desired": ["a": 1], "reported": ["a": 2]]])
        let cleared = try engine.update(first.record, ["state": nil])
        #expect(cleared.record.version == 2)
        #expect(cleared.delta == nil)
        let got = try engine.get(cleared.record, id: classic, clientToken: nil, at: 200)
        #expect(got["state"] == [:] && got["metadata"] == [:] && got["version"] == 2)
    }

    @Test func emptySectionChangesNothingButCounts() throws {
        let first = try engine.update(nil, ["state": ["desired": ["a": 1]]])
        let second = try engine.update(first.record, ["state": ["desired": [:]]])
        #expect(second.record.desired == ["a": 1])
        #expect(second.record.version == 2)
    }

    @Test func emptyObjectValueIsStoredWhenNewAndMergedWhenAnObjectExists() throws {
        let created = try engine.applying([["state": ["desired": ["a": [:], "b": ["x": 1]]]]])
        #expect(created?.desired == ["a": [:], "b": ["x": 1]])
        let merged = try engine.update(created, ["state": ["desired": ["b": [:]]]]).record
        #expect(merged.desired == ["a": [:], "b": ["x": 1]])
    }

    @Test func objectOfOnlyNullsCreatesNothingAndAnEmptiedObjectDisappears() throws {
        let record = try engine.applying([
            ["state": ["desired": ["keep": 1, "nested": ["x": 1]]]],
            ["state": ["desired": ["ghost": ["y": nil], "nested": ["x": nil]]]],
        ])
        #expect(record?.desired == ["keep": 1])
    }

    @Test func valueOfAnotherTypeReplacesWholesale() throws {
        let record = try engine.applying([
            ["state": ["desired": ["a": ["b": 1]]]],
            ["state": ["desired": ["a": 5]]],
            ["state": ["desired": ["a": ["c": 2]]]],
        ])
        #expect(record?.desired == ["a": ["c": 2]])
    }

    @Test func arraysAreWholeValues() throws {
        let record = try engine.applying([
            ["state": ["desired": ["colors": ["RED", "GREEN", "BLUE"]]]],
            ["state": ["desired": ["colors": ["RED"]]]],
        ])
        #expect(record?.desired == ["colors": ["RED"]])
        #expect(record?.desiredMetadata == ["colors": [["timestamp": 101]]])
    }

    @Test(
        arguments: [
            ["state": ["desired": ["a": [1, nil]]]],
            ["state": ["reported": ["a": [[nil]]]]],
            ["state": ["desired": ["a": [["b": nil]]]]],
        ] as [JSONValue])
    func nullInsideAnArrayIsRejected(_ request: JSONValue) {
        #expect(engine.rejection(nil, request) == .arrayContainsNull)
    }

    // MARK: delta (§4.6, §4.7)

    @Test func deltaKeepsThePathToTheRootAndCopiesDesiredTimestamps() throws {
        let first = try engine.update(nil, ["state": ["reported": ["lights": ["color": ["r": 1, "g": 0]]]]], at: 10)
        let second = try engine.update(first.record, ["state": ["desired": ["lights": ["color": ["g": 255]]]]], at: 20)
        #expect(second.delta?["state"] == ["lights": ["color": ["g": 255]]])
        #expect(second.delta?["metadata"] == ["lights": ["color": ["g": ["timestamp": 20]]]])
    }

    @Test func reportedUpdateRepublishesTheWholeCurrentDelta() throws {
        let first = try engine.update(nil, ["state": ["desired": ["a": 1, "b": 2]]], at: 10)
        let second = try engine.update(first.record, ["state": ["reported": ["a": 1, "other": 5]]], at: 20)
        #expect(second.delta?["state"] == ["b": 2])
        #expect(second.delta?["metadata"] == ["b": ["timestamp": 10]])
        #expect(second.delta?["version"] == 2)
    }

    @Test func noDeltaWhenDesiredMatchesReportedAndNumbersCompareByValue() throws {
        let first = try engine.update(nil, ["state": ["desired": ["t": 21, "list": [1, 2]]]])
        let second = try engine.update(first.record, ["state": ["reported": ["t": 21.0, "list": [1.0, 2]]]])
        #expect(second.delta == nil)
        #expect(engine.rejection(second.record, ["state": ["reported": ["t": 21.0]]]) == nil)
    }

    @Test func keysOnlyInReportedNeverAppearInTheDelta() throws {
        let record = try engine.applying([["state": ["desired": ["a": 1], "reported": ["a": 2, "z": 3]]]])
        #expect(record?.delta?.state == ["a": 1])
    }

    @Test func unequalArraysCopyTheWholeDesiredArray() throws {
        let record = try engine.applying([["state": ["desired": ["a": [1, 2, 3]], "reported": ["a": [1, 2]]]]])
        #expect(record?.delta?.state == ["a": [1, 2, 3]])
    }

    // MARK: metadata (§4.5)

    @Test func onlyTheLeavesInTheRequestGetANewTimestamp() throws {
        let first = try engine.update(nil, ["state": ["desired": ["welcome": "hi", "color": "green"]]], at: 10)
        let second = try engine.update(first.record, ["state": ["desired": ["color": "yellow"]]], at: 20)
        #expect(second.record.desiredMetadata == ["welcome": ["timestamp": 10], "color": ["timestamp": 20]])
    }

    @Test func acceptedEchoesTheRequestWithLeafMetadataForNulls() throws {
        let first = try engine.update(nil, ["state": ["reported": ["a": 1]]], at: 10)
        let accepted = try engine.update(first.record, ["state": ["reported": ["a": nil], "desired": nil]], at: 20)
            .accepted
        #expect(accepted["state"] == ["reported": ["a": nil], "desired": nil])
        #expect(accepted["metadata"] == ["reported": ["a": ["timestamp": 20]], "desired": ["timestamp": 20]])
    }

    @Test func arrayMetadataIsPerElementAndRecursesIntoObjects() throws {
        let accepted = try engine.update(nil, ["state": ["reported": ["list": [1, ["x": 2]]]]], at: 7).accepted
        #expect(accepted["metadata"] == ["reported": ["list": [["timestamp": 7], ["x": ["timestamp": 7]]]]])
    }

    // MARK: versions and locking (§4.8, §4.9)

    @Test func everyAcceptedUpdateAddsOneEvenWithoutAChange() throws {
        var record: ShadowRecord?
        for expected in Int64(1)...5 {
            record = try engine.update(record, ["state": ["reported": ["same": 1]]]).record
            #expect(record?.version == expected)
        }
        _ = try engine.get(record, id: classic, clientToken: nil, at: 1)
        #expect(engine.rejection(record, ["state": 5]) != nil)
        #expect(record?.version == 5)
    }

    @Test func versionMismatchIs409WithTheTokenAndMatchingVersionIsAccepted() throws {
        let record = try engine.applying([["state": ["desired": ["a": 1]]]])
        #expect(
            engine.rejection(record, ["state": ["desired": ["a": 2]], "version": 7, "clientToken": "t"])
                == ShadowError(code: 409, message: "Version conflict", clientToken: "t"))
        #expect(try engine.update(record, ["state": ["desired": ["a": 2]], "version": 1]).record.version == 2)
    }

    @Test func versionOnAMissingShadowMustBeTheOneItWouldFollow() throws {
        #expect(engine.rejection(nil, ["state": ["desired": ["a": 1]], "version": 1])?.code == 409)
        #expect(engine.rejection(nil, ["state": ["desired": ["a": 1]], "version": 0]) == nil)
    }

    @Test(arguments: ["\"7\"", "-1", "1.5", "true", "{}"])
    func invalidVersionIs400(_ literal: String) {
        let payload = Array("{\"state\":{\"desired\":{\"a\":1}},\"version\":\(literal)}".utf8)
        #expect(engine.rejection(nil, payload) == .invalidVersion)
    }

    @Test func deleteThenRecreateContinuesNumberingAndPreviousIsNull() throws {
        let record = try engine.applying([["state": ["desired": ["a": 1]]], ["state": ["desired": ["a": 2]]]])
        let deletion = try engine.delete(record, id: classic, clientToken: "d", at: 50)
        #expect(deletion.accepted == ["version": 2, "timestamp": 50, "clientToken": "d"])
        #expect(throws: ShadowError.noShadow(classic)) {
            try engine.get(deletion.record, id: classic, clientToken: nil, at: 51)
        }
        let recreated = try engine.update(deletion.record, ["state": ["reported": ["b": 1]], "version": 2])
        #expect(recreated.record.version == 3)
        #expect(recreated.record.desired == nil)
        #expect(recreated.documents["previous"] == .null)
    }

    // MARK: clientToken (§4.10)

    @Test func clientTokenIsEchoedEverywhere() throws {
        let update = try engine.update(nil, ["state": ["desired": ["a": 1]], "clientToken": "tok"])
        #expect(update.accepted["clientToken"] == "tok")
        #expect(update.delta?["clientToken"] == "tok")
        #expect(update.documents["clientToken"] == "tok")
        #expect(
            try engine.get(update.record, id: classic, payload: Array(#"{"clientToken":"g"}"#.utf8), at: 1)[
                "clientToken"] == "g")
        #expect(
            try engine.delete(update.record, id: classic, payload: Array(#"{"clientToken":"x"}"#.utf8), at: 1).accepted[
                "clientToken"] == "x")
    }

    @Test func clientTokenLimitCountsBytesAndAnInvalidTokenIsNotEchoed() {
        let euro = String(repeating: "€", count: 22)  // 66 bytes, 22 characters
        #expect(
            engine.rejection(nil, ["state": ["desired": ["a": 1]], "clientToken": .string(euro)]) == .invalidClientToken
        )
        #expect(engine.rejection(nil, ["state": ["desired": ["a": 1]], "clientToken": 5]) == .invalidClientToken)
        let sixtyFour = String(repeating: "a", count: 64)
        #expect(engine.rejection(nil, ["state": ["desired": ["a": 1]], "clientToken": .string(sixtyFour)]) == nil)
    }

    @Test func errorsAfterTheTokenCheckEchoIt() {
        #expect(
            engine.rejection(nil, ["clientToken": "c"])
                == ShadowError(code: 400, message: "Missing required node: state", clientToken: "c"))
    }

    // MARK: request shape (§7)

    @Test func invalidUTF8Is415AndInvalidJSONIs400() {
        #expect(engine.rejection(nil, [0x7B, 0xFF, 0x7D]) == .unsupportedEncoding)
        #expect(engine.rejection(nil, Array("{\"state\": ".utf8)) == .invalidJSON)
        #expect(engine.rejection(nil, []) == .invalidJSON)
        #expect(engine.rejection(nil, Array("[1]".utf8)) == .invalidJSON)
        #expect(throws: ShadowError.invalidJSON) {
            try engine.get(nil, id: classic, payload: Array("nope".utf8), at: 1)
        }
    }

    @Test func malformedStateNodes() {
        #expect(engine.rejection(nil, ["state": 5]) == .stateNotObject)
        #expect(engine.rejection(nil, ["state": ["desired": [1]]]) == .desiredNotObject)
        #expect(engine.rejection(nil, ["state": ["reported": "x"]]) == .reportedNotObject)
        #expect(engine.rejection(nil, ["state": ["delta": ["a": 1]]]) == .invalidStateNode("delta"))
    }

    @Test func unknownTopLevelKeysAreIgnored() throws {
        let update = try engine.update(nil, ["state": ["desired": ["a": 1]], "extra": true])
        #expect(update.record.desired == ["a": 1])
    }

    // MARK: limits (§8)

    @Test func depthSixIsAcceptedAndAContainerAtLevelSevenIsNot() {
        let six: JSONValue = ["state": ["desired": ["l2": ["l3": ["l4": ["l5": ["l6": ["leaf": 1]]]]]]]]
        let seven: JSONValue = ["state": ["desired": ["l2": ["l3": ["l4": ["l5": ["l6": ["l7": [:]]]]]]]]]
        let sevenArray: JSONValue = ["state": ["desired": ["l2": ["l3": ["l4": ["l5": ["l6": [[1]]]]]]]]]
        #expect(engine.rejection(nil, six) == nil)
        #expect(engine.rejection(nil, seven) == .tooDeep(maximum: 6))
        #expect(engine.rejection(nil, sevenArray) == .tooDeep(maximum: 6))
        #expect(ShadowEngine(limits: ShadowLimits(maxDepth: 7)).rejection(nil, seven) == nil)
    }

    @Test func absurdNestingIsANestingErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(engine.rejection(nil, Array("{\"state\":{\"desired\":{\"a\":\(deep)}}}".utf8)) == .tooDeep(maximum: 6))
    }

    @Test func sizeLimitAppliesToDesiredPlusReportedAfterTheMerge() throws {
        // {"a":"xxx…"} is 8 bytes of framing around the string.
        let half = String(repeating: "x", count: 4096 - 8)
        let first = try engine.update(nil, ["state": ["reported": ["a": .string(half)]]])
        #expect(first.record.stateByteCount == 4096)
        let full = try engine.update(first.record, ["state": ["desired": ["a": .string(half)]]])
        #expect(full.record.stateByteCount == 8192)
        #expect(engine.rejection(full.record, ["state": ["desired": ["b": 1]]]) == .payloadTooLarge)
        #expect(engine.rejection(full.record, ["state": ["desired": ["a": nil]]]) == nil)
        #expect(
            ShadowEngine(limits: ShadowLimits(maxDocumentBytes: 100)).rejection(
                first.record, ["state": ["desired": ["b": 1]]]) == .payloadTooLarge)
    }

    @Test func namesFollowAWSRules() {
        #expect((try? ShadowID(thingName: String(repeating: "t", count: 128))) != nil)
        #expect((try? ShadowID(thingName: String(repeating: "t", count: 129))) == nil)
        #expect((try? ShadowID(thingName: "a b")) == nil)
        #expect((try? ShadowID(thingName: "")) == nil)
        #expect((try? ShadowID(thingName: "Thing:1_a-b", shadowName: "$cfg:x_y-z")) != nil)
        #expect((try? ShadowID(thingName: "t", shadowName: String(repeating: "s", count: 65))) == nil)
        #expect((try? ShadowID(thingName: "t", shadowName: "a/b")) == nil)
        #expect((try? ShadowID(thingName: "t$")) == nil)
    }

    @Test func missingShadowMessagesNameThingOrThingTildeShadow() throws {
        let named = try ShadowID(thingName: "t", shadowName: "s")
        #expect(ShadowError.noShadow(classic).message == "No shadow exists with name: 'lamp'")
        #expect(ShadowError.noShadow(named).message == "No shadow exists with name: 't~s'")
        #expect(ShadowError.noShadow(named).exceptionName == "ResourceNotFoundException")
    }

    // MARK: payload shapes (§3)

    @Test func getShowsOnlyNonEmptySectionsAndTheDeltaWithItsMetadata() throws {
        let record = try engine.applying([["state": ["desired": ["a": 1], "reported": ["a": 2]]]], start: 5)
        let got = try engine.get(record, id: classic, clientToken: nil, at: 9)
        #expect(
            got == [
                "state": ["desired": ["a": 1], "reported": ["a": 2], "delta": ["a": 1]],
                "metadata": [
                    "desired": ["a": ["timestamp": 5]], "reported": ["a": ["timestamp": 5]],
                    "delta": ["a": ["timestamp": 5]],
                ],
                "version": 1, "timestamp": 9,
            ])
    }

    @Test func documentsCarrySnapshotsWithoutDelta() throws {
        let first = try engine.update(nil, ["state": ["desired": ["a": 1]]], at: 1)
        let second = try engine.update(first.record, ["state": ["reported": ["a": 2]], "clientToken": "c"], at: 2)
        #expect(
            second.documents == [
                "previous": [
                    "state": ["desired": ["a": 1]], "metadata": ["desired": ["a": ["timestamp": 1]]], "version": 1,
                ],
                "current": [
                    "state": ["desired": ["a": 1], "reported": ["a": 2]],
                    "metadata": ["desired": ["a": ["timestamp": 1]], "reported": ["a": ["timestamp": 2]]], "version": 2,
                ],
                "timestamp": 2, "clientToken": "c",
            ])
    }

    @Test func errorDocumentHasCodeMessageAndTokenOnly() {
        let error = ShadowError(code: 409, message: "Version conflict", clientToken: "x")
        #expect(error.document.compactText == #"{"code":409,"message":"Version conflict","clientToken":"x"}"#)
        #expect(error.exceptionName == "ConflictException")
    }

    @Test func recordSurvivesItsSnapshot() throws {
        let payload = Array(#"{"state":{"desired":{"a":[1,2.50]},"reported":{"b":"c"}}}"#.utf8)
        let record = try engine.update(nil, payload: payload, at: 1).record
        let text = record.snapshot.compactText
        #expect(ShadowRecord(snapshot: try JSONParser().parse(text), exists: true) == record)
        #expect(text.contains("2.50"))
    }
}

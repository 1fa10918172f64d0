import HubCore
import Testing

@testable import HubDaemon

@Suite struct ShadowServiceTests {
    @Test func aReadDuringAPendingWriteAnswersTheDurableVersion() async throws {
        let hub = try await ShadowHarness()
        defer { hub.store.close() }
        #expect(await hub.update("lamp", ["state": ["reported": ["on": false]]]).version == 1)
        hub.gate.holdNext()
        let pending = Task { await hub.update("lamp", ["state": ["reported": ["on": true]]]) }
        var arrivals = hub.gate.arrivals.makeAsyncIterator()
        _ = await arrivals.next()  // version 2 is applied and waits for its commit
        let during = await hub.get("lamp")
        #expect(during.version == 1, "a read must not see a version that a crash could take back")
        hub.gate.open()
        #expect(await pending.value.version == 2)
        #expect(await hub.get("lamp").version == 2)
    }

    @Test func aFailedWriteIsAnswered500AndTheShadowStillAnswersItsDurableState() async throws {
        let hub = try await ShadowHarness()
        defer { hub.store.close() }
        #expect(await hub.update("lamp", ["state": ["reported": ["on": false]]]).version == 1)
        hub.gate.failNext()
        let failed = await hub.update("lamp", ["state": ["reported": ["on": true]], "clientToken": "t-2"])
        #expect(failed.errorCode == 500)
        if case .failure(let error) = failed { #expect(error.clientToken == "t-2") }
        let read = await hub.get("lamp")
        #expect(read.version == 1, "never 404, never the failed version")
        if case .success(let outcome) = read {
            #expect(outcome.accepted["state"]?["reported"]?["on"] == false)
        }
        // The next change builds on what is durable, and is stored.
        #expect(await hub.update("lamp", ["state": ["reported": ["on": true]]]).version == 2)
        #expect(try await hub.store.shadow(.init(unchecked: "lamp", shadowName: nil))?.version == 2)
    }

    @Test func aRequestOverTheRateLimitIsAnswered429WithItsClientToken() async throws {
        let hub = try await ShadowHarness(requestsPerSecond: 1)
        defer { hub.store.close() }
        let id = ShadowID(unchecked: "chatty", shadowName: nil)
        let first = await hub.shadows.perform(
            .init(.update, id, payload: Array(#"{"state":{"reported":{"n":1}},"clientToken":"c1"}"#.utf8)),
            origin: .mqtt, by: .anonymous)
        #expect(first.version == 1)
        let second = await hub.shadows.perform(
            .init(.update, id, payload: Array(#"{"state":{"reported":{"n":2}},"clientToken":"c2"}"#.utf8)),
            origin: .mqtt, by: .anonymous)
        guard case .failure(let error) = second else {
            Issue.record("the second request within a second must be refused")
            return
        }
        #expect((error.code, error.clientToken) == (429, "c2"))
        #expect(hub.publisher.topics().contains("$aws/things/chatty/shadow/update/rejected"))
    }

    @Test func aWhitespaceGetPayloadIsInvalidJSON() async throws {
        let hub = try await ShadowHarness()
        defer { hub.store.close() }
        _ = await hub.update("lamp", ["state": ["reported": ["on": true]]])
        let answer = await hub.shadows.perform(
            .init(.get, .init(unchecked: "lamp", shadowName: nil), payload: Array(" \n".utf8)), origin: .mqtt,
            by: .anonymous)
        guard case .failure(let error) = answer else {
            Issue.record("whitespace is not JSON")
            return
        }
        #expect((error.code, error.message) == (400, "Invalid JSON"))
    }

    @Test func aCommandsOwnWritesAreNamedCommand() async throws {
        let hub = try await ShadowHarness()
        defer { hub.store.close() }
        let events = hub.events.subscribe(thing: "door")
        _ = await hub.shadows.perform(
            .init(
                .update, .init(unchecked: "door", shadowName: nil),
                payload: Array(#"{"state":{"desired":{"command":[]}}}"#.utf8)),
            origin: .command, by: .hub)
        var iterator = events.events.makeAsyncIterator()
        let event = await iterator.next()
        #expect(event?["via"] == "command")
    }
}

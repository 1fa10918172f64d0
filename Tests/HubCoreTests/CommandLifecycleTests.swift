import HubCore
import Testing

/// Every transition of the command lifecycle, with times given explicitly (the injected clock).
struct CommandLifecycleTests {
    /// TTL 10 s, timeout 30 s, heartbeat 1 s × 3 misses; created at t = 1000 ms.
    func command() -> Command {
        Command(
            id: "c1", thing: "frontdoor", name: "unlock", delivery: "plugin", createdAt: 1000, ttlMilliseconds: 10_000,
            timeoutMilliseconds: 30_000, heartbeatMilliseconds: 1000, allowedMisses: 3)
    }

    @Test func happyPathQueuedSentRunningSucceeded() {
        var c = command()
        #expect(c.state == .queued && c.nextDeadline == 11_000)
        #expect(c.apply(.delivered, at: 2000) == [])
        #expect(c.state == .sent && c.finishBy == 32_000 && c.heartbeatBy == 5000)
        c.apply(.progress(percent: 40, message: "unlocking"), at: 3000)
        #expect(c.state == .running && c.progress == 40 && c.message == "unlocking" && c.heartbeatBy == 6000)
        c.apply(.progress(percent: 80, message: nil), at: 4000)
        #expect(c.state == .running && c.message == "unlocking" && c.heartbeatBy == 7000)
        #expect(c.apply(.succeeded(message: "unlocked", result: ["lockState": "unlocked"]), at: 5000) == [.finished])
        #expect(c.state == .succeeded && c.result == ["lockState": "unlocked"] && c.nextDeadline == nil)
        #expect(c.transitions.map(\.state) == [.queued, .sent, .running, .succeeded])
        #expect(c.transitions.map(\.at) == [1000, 2000, 3000, 5000])
    }

    @Test func failureFromTheDevice() {
        var c = command()
        c.apply(.delivered, at: 2000)
        #expect(c.apply(.failed(message: "jammed", result: nil), at: 2500) == [.finished])
        #expect(c.state == .failed && c.transitions.last?.reason == "device reported failure: jammed")
    }

    @Test func expiresWhenNotDeliveredWithinTheTTL() {
        var c = command()
        #expect(c.apply(.tick, at: 11_000) == [])
        #expect(c.state == .queued)
        #expect(c.apply(.tick, at: 11_001) == [.finished])
        #expect(c.state == .expired && c.transitions.last?.reason.hasPrefix("ttl_expired") == true)
    }

    @Test func aDeliveryAfterTheTTLExpiresInstead() {
        var c = command()
        c.apply(.delivered, at: 12_000)
        #expect(c.state == .expired)
    }

    @Test func timesOutWhenHeartbeatsStop() {
        var c = command()
        c.apply(.delivered, at: 2000)
        c.apply(.progress(percent: 10, message: nil), at: 2500)
        c.apply(.tick, at: 5500)
        #expect(c.state == .running)
        #expect(c.apply(.tick, at: 5501) == [.finished])
        #expect(c.state == .timedOut && c.transitions.last?.reason.hasPrefix("heartbeat_missed") == true)
    }

    @Test func timesOutPastTheOverallTimeoutEvenWithHeartbeats() {
        var c = command()
        c.apply(.delivered, at: 2000)
        var now: Int64 = 2000
        while now < 32_000 {
            now += 1000
            c.apply(.progress(percent: nil, message: "still going"), at: now)
        }
        c.apply(.tick, at: 32_001)
        #expect(c.state == .timedOut && c.transitions.last?.reason.hasPrefix("timeout") == true)
    }

    @Test func aResultAfterTimeOutIsRecordedButChangesNothing() {
        var c = command()
        c.apply(.delivered, at: 2000)
        c.apply(.tick, at: 9000)
        #expect(c.state == .timedOut)
        #expect(c.apply(.succeeded(message: "late", result: ["x": 1]), at: 9500) == [])
        #expect(c.state == .timedOut && c.result == nil)
        #expect(c.lateResult?["status"] == "SUCCEEDED" && c.lateResult?["result"] == ["x": 1])
        #expect(c.transitions.count == 3)
    }

    @Test func refusedByTheDeviceIsRejected() {
        var c = command()
        #expect(c.apply(.refused(reason: "the lock is jammed"), at: 1500) == [.finished])
        #expect(c.state == .rejected && c.message == "the lock is jammed")
    }

    @Test func invalidParametersAreRejectedWithTheirReasonCode() {
        var c = command()
        #expect(c.apply(.invalidParameters(reason: "position must be 0–100"), at: 1100) == [.finished])
        #expect(c.state == .rejected && c.transitions.last?.reason == "invalid_parameters: position must be 0–100")
    }

    @Test func anAbandonedRunningCommandFailsWithTheGivenCode() {
        var c = command()
        c.apply(.abandoned(code: "hub_restarted", message: "interrupted"), at: 1500)
        #expect(c.state == .queued)  // never delivered: nothing to abandon
        c.apply(.delivered, at: 2000)
        #expect(c.apply(.abandoned(code: "hub_restarted", message: "interrupted"), at: 2500) == [.finished])
        #expect(c.state == .failed && c.transitions.last?.reason == "hub_restarted" && c.message == "interrupted")
    }

    @Test func cancelBeforeAndDuringDelivery() {
        var queued = command()
        #expect(queued.apply(.cancel(by: "alice"), at: 1500) == [.finished])
        #expect(queued.state == .canceled)
        var running = command()
        running.apply(.delivered, at: 2000)
        running.apply(.progress(percent: 5, message: nil), at: 2100)
        #expect(running.apply(.cancel(by: "alice"), at: 2200) == [.cancelOnDevice, .finished])
        #expect(running.state == .canceled && running.transitions.last?.reason == "canceled by alice")
    }

    @Test func finalStatesNeverChange() {
        for final in [CommandState.succeeded, .failed, .timedOut, .expired, .rejected, .canceled] {
            var c = command()
            c.state = final
            for event in [
                CommandEvent.delivered, .progress(percent: 1, message: nil), .cancel(by: "x"), .tick,
                .refused(reason: "r"),
            ] {
                c.apply(event, at: 99_000)
                #expect(c.state == final)
            }
        }
    }

    @Test func ledgerFormRoundTrips() {
        var c = command()
        c.idempotencyKey = "k"
        c.requester = ["user": "alice", "uid": 1000]
        c.apply(.delivered, at: 2000)
        c.apply(.progress(percent: 50, message: "half"), at: 2100)
        #expect(Command(json: c.json) == c)
    }
}

import HubCore
import HubPlugins
import HubStore
import Logging
import Testing

@testable import HubDaemon

@Suite struct CommandServiceTests {
    static let lockType = DeviceType(
        name: "testlock", shadows: [(name: "lock", attributes: [:])],
        commands: ["unlock": CommandSchema(timeoutSeconds: 60, heartbeatSeconds: 1)])

    func makeLedger() async throws -> (ShadowHarness, CommandService) {
        let things = ["a", "b"].map { ThingRegistration(name: $0, deviceType: "testlock", createdAt: 0) }
        let hub = try await ShadowHarness(types: [Self.lockType], things: things)
        let commands = hub.commandLedger()
        return (hub, commands)
    }

    func start(_ commands: CommandService, thing: String) async throws -> String {
        let created = await commands.create(
            .init(
                thing: thing, name: "unlock", parameters: [:], ttlSeconds: nil, timeoutSeconds: nil,
                idempotencyKey: nil, requester: [:], identity: .hub, path: "api"))
        let command = try created.get().0
        await commands.report(
            id: command.id, thing: thing, status: "RUNNING", progress: 10, message: nil, result: nil)
        #expect(await commands.command(command.id)?.state == .running)
        return command.id
    }

    /// The defect: `tick` walked a copy of the active commands across the await of an earlier
    /// command's write, so a SUCCEEDED that landed in that window was overwritten by TIMED_OUT.
    @Test func aSuccessThatLandsWhileATickIsSuspendedStaysSucceeded() async throws {
        let (hub, commands) = try await makeLedger()
        defer { hub.store.close() }
        let first = try await start(commands, thing: "a")
        let second = try await start(commands, thing: "b")
        hub.clock.advance(seconds: 10)  // both are past their heartbeat deadline
        // Writes commit in order: once this one is durable, every earlier one is, and the gate
        // below holds the tick's own write, nothing left over from the set-up.
        _ = await hub.update("flush", ["state": ["reported": ["done": true]]])
        hub.gate.holdNext()
        let tick = Task { await commands.tick() }
        var arrivals = hub.gate.arrivals.makeAsyncIterator()
        _ = await arrivals.next()  // the tick timed one out and waits for that write
        // Whichever the tick reached first, the other one now succeeds.
        let states = (await commands.command(first)?.state, await commands.command(second)?.state)
        let (timedOut, other) = states.0 == .timedOut ? (first, second) : (second, first)
        #expect(await commands.command(timedOut)?.state == .timedOut)
        await withTaskGroup { group in
            group.addTask {
                await commands.report(
                    id: other, thing: nil, status: "SUCCEEDED", progress: nil, message: "done", result: nil)
            }
            // The report is applied before it, too, waits for the held commit.
            while await commands.command(other)?.state != .succeeded { await Task.yield() }
            hub.gate.open()
        }
        await tick.value
        #expect(try await hub.store.command(id: other)?.state == .succeeded)
        #expect(try await hub.store.command(id: timedOut)?.state == .timedOut)
        #expect(await commands.command(other)?.state == .succeeded)
    }

    @Test func aRepeatedIdempotencyKeyNamesTheSameCommand() async throws {
        let (hub, commands) = try await makeLedger()
        defer { hub.store.close() }
        let request = CommandService.Request(
            thing: "a", name: "unlock", parameters: [:], ttlSeconds: nil, timeoutSeconds: nil, idempotencyKey: "k1",
            requester: [:], identity: .hub, path: "api")
        async let one = commands.create(request)
        async let two = commands.create(request)
        let (a, b) = try await (one.get(), two.get())
        #expect(a.0.id == b.0.id)
        #expect([a.created, b.created].filter { $0 }.count == 1)
    }
}

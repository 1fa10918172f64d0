import HubCore
import HubPlugins
import Logging
import Testing

@testable import HubDaemon

@Suite struct ScheduleServiceTests {
    @Test func aOneShotFiresOnceThroughTheShadowPathAndAClockStepBackDoesNotRefireIt() async throws {
        // The manual clock starts at 2027-01-15 08:00 UTC.
        let hub = try await ShadowHarness(things: [.init(name: "lamp", deviceType: nil, createdAt: 0)])
        defer { hub.store.close() }
        let commands = hub.commandLedger()
        let schedules = try ScheduleService(
            store: hub.store, shadows: hub.shadows, commands: commands, events: hub.events, clock: hub.clock,
            zones: TimeZoneDatabase(), configuredZone: "UTC", logger: Logger(label: "test"))
        try await schedules.load()
        let events = hub.events.subscribe(thing: "lamp")

        let saved = await schedules.save(
            ["id": "wake", "thing": "lamp", "at": "2027-01-15T09:30", "desired": ["on": true]], id: nil, by: .hub)
        #expect((try? saved.get())?.created == true)
        await schedules.tick()
        #expect(await hub.get("lamp").errorCode == 404, "nothing before its time")

        hub.clock.advance(seconds: 90 * 60)  // 09:30 exactly
        await schedules.tick()
        let fired = await hub.get("lamp")
        #expect(fired.version == 1)
        if case .success(let outcome) = fired { #expect(outcome.accepted["state"]?["desired"]?["on"] == true) }
        var iterator = events.events.makeAsyncIterator()
        let event = await iterator.next()
        #expect(event?["via"] == "schedule" && event?["clientToken"] == "schedule:wake")

        await schedules.tick()
        hub.clock.stepWallClock(seconds: -3600)  // someone sets the clock back over the firing
        await schedules.clockJumped(by: -3600)
        await schedules.tick()
        hub.clock.advance(seconds: 3600)
        await schedules.tick()
        #expect(await hub.get("lamp").version == 1, "a firing is never applied twice")
    }
}

import HubCore
import HubStore
import Logging
import Metrics
import ServiceLifecycle

/// Ticks the schedules every second against the wall clock (so a clock change is seen within a
/// second, never slept through), watches for clock jumps and zone changes, and feeds manual
/// changes to the holds.
struct ScheduleTimerService: Service {
    let schedules: ScheduleService
    let manualChanges: LatestValues<ShadowID, ShadowFanOut.ManualDesiredChange>
    let clock: any HubClock

    func run() async throws {
        try await runUntilGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    while let (_, change) = await manualChanges.next() { await schedules.observe(change) }
                }
                await schedules.tick()
                var lastWall = clock.epochMilliseconds()
                var lastMonotonic = clock.monotonicNanoseconds()
                var ticks = 0
                while true {
                    try await Task.sleep(for: .seconds(1))
                    let wall = clock.epochMilliseconds()
                    let monotonic = clock.monotonicNanoseconds()
                    let expected = lastWall + Int64((monotonic &- lastMonotonic) / 1_000_000)
                    (lastWall, lastMonotonic) = (wall, monotonic)
                    if abs(wall - expected) > 2000 {
                        await schedules.clockJumped(by: (wall - expected) / 1000)
                    }
                    ticks += 1
                    if ticks % 10 == 0 { await schedules.checkSystemZone() }
                    await schedules.tick()
                }
            }
        }
    }
}

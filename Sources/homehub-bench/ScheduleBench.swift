import Dispatch
import HubCore
import HubProcess

/// 10,000 schedules in the planner: next-fire computation, the cost of a tick when nothing is
/// due (the heap's minimum beside a scan of every schedule's next time, the baseline), and a
/// whole day of firings through `due(at:)`.
enum ScheduleBench {
    static func run(quick: Bool) throws {
        let count = quick ? 2_000 : 10_000
        guard let bytes = FileContents.read("/usr/share/zoneinfo/Europe/Berlin") else {
            print("schedules: skipped, /usr/share/zoneinfo/Europe/Berlin is missing (install tzdata)")
            return
        }
        let berlin = try TimeZoneRules(name: "Europe/Berlin", tzif: bytes)
        let start: Int64 = 1_806_105_600  // Saturday 2027-03-27 00:00 UTC: the DST night is inside the day
        var schedules: [Schedule] = []
        for index in 0..<count {
            let minute = (index * 7) % 60
            let hour = (index * 13) % 24
            let body: JSONValue =
                index % 2 == 0
                ? [
                    "thing": .string("heater\(index)"),
                    "program": .string(
                        "weekdays \(two(hour)):\(two(minute)) targetTemperature=21; weekdays 08:00 targetTemperature=17; weekdays 17:30 targetTemperature=21; weekdays 22:30 targetTemperature=16; weekends 08:00 targetTemperature=21; weekends 23:00 targetTemperature=16"
                    ),
                ]
                : [
                    "thing": .string("lamp\(index)"), "cron": .string("\(minute) \(hour) * * *"),
                    "desired": ["on": true],
                ]
            schedules.append(try Schedule(request: body, id: nil, defaultID: "s\(index)", now: start))
        }

        var rows: [(String, Int, Double, String)] = []
        for (label, subset) in [
            ("next fire, weekly program (6 entries)", schedules.filter(\.isProgram)),
            ("next fire, cron", schedules.filter { !$0.isProgram }),
        ] {
            let begin = DispatchTime.now().uptimeNanoseconds
            var checksum: Int64 = 0
            for schedule in subset {
                checksum &+= schedule.nextOccurrence(after: start, in: berlin)?.firing.instant ?? 0
            }
            let elapsed = Bench.seconds(since: begin)
            rows.append((label, subset.count, elapsed / Double(subset.count) * 1e6, "µs each"))
            if checksum == 42 { print("") }
        }

        var planner = SchedulePlanner(defaultZone: berlin)
        var begin = DispatchTime.now().uptimeNanoseconds
        for schedule in schedules { planner.load(schedule, zone: nil) }
        rows.append(("load into the planner (heap)", count, Bench.seconds(since: begin) * 1000, "ms total"))

        // A tick with nothing due: the heap's minimum, against scanning every next time.
        let ticks = 1_000_000
        var nextTimes = schedules.map { $0.nextOccurrence(after: start, in: berlin)?.firing.instant ?? .max }
        begin = DispatchTime.now().uptimeNanoseconds
        var due = 0
        for tick in 0..<ticks where (planner.nextWake ?? .max) <= start - Int64(tick % 2) { due += 1 }
        let heapTick = Bench.seconds(since: begin) / Double(ticks) * 1e9
        let scanTicks = 2_000
        begin = DispatchTime.now().uptimeNanoseconds
        for tick in 0..<scanTicks {
            nextTimes[tick % nextTimes.count] &+= 1  // schedules change between ticks
            if earliest(nextTimes) <= start - Int64(tick % 2) { due += 1 }
        }
        let scanTick = Bench.seconds(since: begin) / Double(scanTicks) * 1e9
        rows.append(("idle tick, heap minimum", ticks, heapTick, "ns each"))
        rows.append(("idle tick, scan of all (baseline)", scanTicks, scanTick, "ns each"))

        // A day of firings, each due time in turn.
        begin = DispatchTime.now().uptimeNanoseconds
        var runs = 0
        while let wake = planner.nextWake, wake < start + 86_400 { runs += planner.due(at: wake).count }
        let dayElapsed = Bench.seconds(since: begin)
        rows.append(("a day of firings through due(at:)", runs, Double(runs) / dayElapsed, "runs/s"))

        print("Schedules: \(count) in Europe/Berlin (half weekly programs, half cron), on the 2027-03-28 DST day")
        print(Bench.pad("measure", 40) + Bench.pad("n", 10) + Bench.pad("value", 12) + "unit")
        for (label, n, value, unit) in rows {
            print(Bench.pad(label, 40) + Bench.pad(String(n), 10) + Bench.pad(Bench.format(value), 12) + unit)
        }
        print(
            "idle tick: the heap's minimum costs \(Bench.format(heapTick / scanTick))x the scan's\(due < 0 ? "" : "")")
        print("")
    }

    /// What a scheduler without a queue does every tick: look at every schedule's next time.
    @inline(never)
    static func earliest(_ times: [Int64]) -> Int64 {
        var result = Int64.max
        for time in times where time < result { result = time }
        return result
    }

    static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}

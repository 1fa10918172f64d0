import Foundation
import HubCore
import Testing

/// Time rules of schedules, with explicit instants (never a sleeping clock), against the
/// system's IANA zone files. The DST nights of 2026: Europe/Berlin 29 March (02:00 → 03:00) and
/// 25 October (03:00 → 02:00); America/New_York 8 March and 1 November.
struct ScheduleTimeTests {
    static func zone(_ name: String) throws -> TimeZoneRules {
        let data = try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/\(name)"))
        return try TimeZoneRules(name: name, tzif: Array(data))
    }

    static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int = 0) -> Int64 {
        CivilTime(year: year, month: month, day: day, hour: hour, minute: minute).seconds
    }

    @Test func civilTimeRoundTripsAndKnowsWeekdays() {
        let time = CivilTime(year: 2026, month: 3, day: 29, hour: 2, minute: 30)
        #expect(CivilTime(seconds: time.seconds) == time)
        #expect(time.weekday == 0)  // a Sunday
        #expect(CivilTime(seconds: -1) == CivilTime(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59))
        #expect(CivilTime.daysIn(month: 2, year: 2028) == 29 && CivilTime.daysIn(month: 2, year: 2100) == 28)
    }

    @Test func offsetsAroundTheBerlinTransitions() throws {
        let berlin = try Self.zone("Europe/Berlin")
        #expect(berlin.offset(at: Self.utc(2026, 3, 29, 0, 59)) == 3600)
        #expect(berlin.offset(at: Self.utc(2026, 3, 29, 1, 0)) == 7200)
        #expect(berlin.offset(at: Self.utc(2026, 10, 25, 0, 59)) == 7200)
        #expect(berlin.offset(at: Self.utc(2026, 10, 25, 1, 0)) == 3600)
        // Far past the file's transitions the footer rule still gives the right answer.
        #expect(berlin.offset(at: Self.utc(2090, 7, 1, 12)) == 7200)
        #expect(berlin.offset(at: Self.utc(2090, 1, 1, 12)) == 3600)
    }

    @Test func aSkippedLocalTimeFiresOnceAtTheFirstValidInstantAfterIt() throws {
        let berlin = try Self.zone("Europe/Berlin")
        let cron = try CronExpression("30 2 * * *")
        let firings = cron.firings(after: Self.utc(2026, 3, 28, 12), count: 2, in: berlin)
        #expect(firings[0].instant == Self.utc(2026, 3, 29, 1, 0))  // 03:00 CEST
        #expect(firings[0].adjustment == .skippedToNextValid)
        #expect(berlin.local(firings[0].instant) == CivilTime(year: 2026, month: 3, day: 29, hour: 3))
        #expect(firings[1].instant == Self.utc(2026, 3, 30, 0, 30))  // 02:30 CEST the day after
        #expect(firings[1].adjustment == .none)
    }

    @Test func severalTimesInsideTheGapStillFireOnce() throws {
        let newYork = try Self.zone("America/New_York")
        let cron = try CronExpression("0,15,30,45 2 * * *")
        let firings = cron.firings(after: Self.utc(2026, 3, 8, 0), count: 2, in: newYork)
        #expect(firings[0].instant == Self.utc(2026, 3, 8, 7, 0))  // 03:00 EDT
        #expect(firings[1].instant == Self.utc(2026, 3, 9, 6, 0))  // 02:00 EDT next day
    }

    @Test func aRepeatedLocalTimeFiresOnceAtItsFirstOccurrence() throws {
        let berlin = try Self.zone("Europe/Berlin")
        let daily = try CronExpression("30 2 * * *")
        let firings = daily.firings(after: Self.utc(2026, 10, 24, 12), count: 2, in: berlin)
        #expect(firings[0].instant == Self.utc(2026, 10, 25, 0, 30))  // 02:30 CEST, the first
        #expect(firings[0].adjustment == .firstOfRepeated)
        #expect(firings[1].instant == Self.utc(2026, 10, 26, 1, 30))  // 02:30 CET next day
        let hourly = try CronExpression("30 * * * *")
        let night = hourly.firings(after: Self.utc(2026, 10, 24, 23, 0), count: 3, in: berlin)
        // 01:30 CEST, 02:30 CEST, then 03:30 CET: the second 02:30 does not fire.
        #expect(
            night.map(\.instant) == [
                Self.utc(2026, 10, 24, 23, 30), Self.utc(2026, 10, 25, 0, 30), Self.utc(2026, 10, 25, 2, 30),
            ])
    }

    @Test func newYorkFallBack() throws {
        let newYork = try Self.zone("America/New_York")
        let cron = try CronExpression("30 1 * * *")
        let firing = try #require(cron.nextFiring(after: Self.utc(2026, 11, 1, 0), in: newYork))
        #expect(firing.instant == Self.utc(2026, 11, 1, 5, 30) && firing.adjustment == .firstOfRepeated)  // 01:30 EDT
    }

    @Test func weekdaysNamesRangesStepsAndTheDayRule() throws {
        let utc = TimeZoneRules.utc
        let weekdays = try CronExpression("30 6 * * mon-fri")
        let firings = weekdays.firings(after: Self.utc(2026, 11, 27, 7), count: 2, in: utc)  // a Friday
        #expect(firings.map(\.instant) == [Self.utc(2026, 11, 30, 6, 30), Self.utc(2026, 12, 1, 6, 30)])
        #expect(try CronExpression("*/15 * * * *").minutes == [0, 15, 30, 45])
        #expect(try CronExpression("0 0 * jan,jul sun").months == [1, 7])
        #expect(try CronExpression("0 0 * * 7").weekdays == [0])
        // Both day fields restricted: either matches (the 1st, or any Monday).
        let either = try CronExpression("0 12 1 * mon")
        #expect(either.matches(date: CivilTime(year: 2026, month: 12, day: 1)))  // a Tuesday, the 1st
        #expect(either.matches(date: CivilTime(year: 2026, month: 12, day: 7)))  // a Monday
        #expect(!either.matches(date: CivilTime(year: 2026, month: 12, day: 8)))
    }

    @Test(arguments: [
        ("* * * *", "must have 5 fields"), ("60 * * * *", "cron minute '60' must be 0–59"),
        ("* * * foo *", "cron month 'foo' must be 1–12 or a name (jan…dec)"), ("*/0 * * * *", "step after '/'"),
        ("5-1 * * * *", "runs backwards"),
    ])
    func invalidExpressionsNameTheFieldAndTheRule(_ text: String, _ expected: String) {
        do {
            _ = try CronExpression(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }
}

struct WeeklyProgramTests {
    static let week = """
        mon-fri 06:30 targetTemperature=21 mode=heat; mon-fri 08:00 targetTemperature=17
        mon-fri 17:30 targetTemperature=21; mon-fri 22:30 targetTemperature=16
        sat,sun 08:00 targetTemperature=21; weekends 23:00 targetTemperature=16
        """

    @Test func parsesAWeekAndSaysWhatIsInForce() throws {
        let program = try WeeklyProgram(Self.week)
        #expect(program.entries.count == 6)
        let berlin = try ScheduleTimeTests.zone("Europe/Berlin")
        // Tuesday 1 December 2026, 07:00 in Berlin (06:00 UTC): the 06:30 entry is in force.
        let morning = try #require(program.inForce(at: ScheduleTimeTests.utc(2026, 12, 1, 6), in: berlin))
        #expect(morning.state == ["targetTemperature": 21, "mode": "heat"])
        #expect(morning.since == ScheduleTimeTests.utc(2026, 12, 1, 5, 30))
        // Saturday 5 December, 12:00: the weekend's 08:00 entry; mode still from Friday morning.
        let saturday = try #require(program.inForce(at: ScheduleTimeTests.utc(2026, 12, 5, 11), in: berlin))
        #expect(saturday.state == ["targetTemperature": 21, "mode": "heat"])
    }

    @Test func nextTransitionsInOrder() throws {
        let program = try WeeklyProgram(Self.week)
        // From Friday 20:00.
        let next = program.transitions(after: ScheduleTimeTests.utc(2026, 12, 4, 20), count: 3, in: .utc)
        #expect(
            next.map(\.firing.instant) == [
                ScheduleTimeTests.utc(2026, 12, 4, 22, 30), ScheduleTimeTests.utc(2026, 12, 5, 8),
                ScheduleTimeTests.utc(2026, 12, 5, 23),
            ])
        #expect(next.map(\.patch) == [["targetTemperature": 16], ["targetTemperature": 21], ["targetTemperature": 16]])
    }

    @Test(arguments: [
        ("mon-fri 6h30 t=1", "must be HH:MM"), ("someday 06:30 t=1", "is not a day"), ("- 06:30 t=1", "is not a day"),
        ("mon 06:30", "must be DAYS HH:MM"),
        ("mon 06:30 novalue", "is not key=value"), ("", "at least one entry"),
    ])
    func invalidProgramsSayWhatIsWrong(_ text: String, _ expected: String) {
        do {
            _ = try WeeklyProgram(text)
            Issue.record("accepted '\(text)'")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }
}

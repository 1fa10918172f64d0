import HubCore
import Testing

/// The planner on explicit instants: firings on time, across DST, after downtime and clock
/// jumps, zone changes, and holds. No test sleeps; "now" is an argument.
struct SchedulePlannerTests {
    static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int = 0) -> Int64 {
        ScheduleTimeTests.utc(year, month, day, hour, minute)
    }

    static func schedule(_ body: JSONValue, now: Int64 = 0) throws -> Schedule {
        try Schedule(request: body, id: nil, defaultID: "s1", now: now)
    }

    static let heaterWeek: JSONValue = [
        "thing": "livingroom",
        "program":
            "weekdays 06:30 targetTemperature=21; weekdays 08:00 targetTemperature=17; weekdays 17:30 targetTemperature=21; weekdays 22:30 targetTemperature=16; weekends 08:00 targetTemperature=21; weekends 23:00 targetTemperature=16",
    ]

    /// Tuesday 1 December 2026 in UTC.
    static let tuesday = utc(2026, 12, 1, 0)

    @Test func aProgramFiresAtEachTransitionOnce() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        let start = Self.tuesday + 7 * 3600  // 07:00
        let applied = planner.add(try Self.schedule(Self.heaterWeek, now: start), zone: nil, now: start)
        #expect(applied?.kind == .applied)
        #expect(applied?.patch == ["targetTemperature": 21])
        #expect(planner.nextWake == Self.tuesday + 8 * 3600)
        #expect(planner.due(at: Self.tuesday + 8 * 3600 - 1).isEmpty)
        let runs = planner.due(at: Self.tuesday + 8 * 3600 + 2)
        #expect(runs.map(\.kind) == [.fired])
        #expect(runs.first?.patch == ["targetTemperature": 17])
        #expect(runs.first?.missed == 0)
        #expect(planner.due(at: Self.tuesday + 8 * 3600 + 30).isEmpty, "fires once")
        #expect(planner.nextWake == Self.tuesday + 17 * 3600 + 1800)
    }

    @Test func berlinSpringForwardFiresOnceAtTheFirstValidInstant() throws {
        let berlin = try ScheduleTimeTests.zone("Europe/Berlin")
        var planner = SchedulePlanner(defaultZone: berlin)
        let saturday = Self.utc(2026, 3, 28, 12)
        _ = planner.add(
            try Self.schedule(["thing": "t", "program": "daily 02:30 mode=night"], now: saturday), zone: nil,
            now: saturday)
        // 02:30 does not exist on 29 March 2026 in Berlin: 03:00 CEST = 01:00 UTC.
        #expect(planner.nextWake == Self.utc(2026, 3, 29, 1))
        let runs = planner.due(at: Self.utc(2026, 3, 29, 1))
        #expect(runs.count == 1)
        #expect(runs.first?.occurrence?.firing.adjustment == .skippedToNextValid)
        // The next night is an ordinary 02:30 CEST = 00:30 UTC.
        #expect(planner.nextWake == Self.utc(2026, 3, 30, 0, 30))
    }

    @Test func newYorkFallBackFiresOnceAtTheFirstOccurrence() throws {
        let newYork = try ScheduleTimeTests.zone("America/New_York")
        var planner = SchedulePlanner(defaultZone: newYork)
        let before = Self.utc(2026, 10, 31, 12)
        _ = planner.add(
            try Self.schedule(["thing": "t", "cron": "30 1 * * *", "desired": ["mode": "night"]], now: before),
            zone: nil, now: before)
        // 01:30 happens twice on 1 November 2026: first at 01:30 EDT = 05:30 UTC.
        #expect(planner.nextWake == Self.utc(2026, 11, 1, 5, 30))
        #expect(planner.due(at: Self.utc(2026, 11, 1, 5, 30)).map(\.kind) == [.fired])
        // Not again at 01:30 EST (06:30 UTC): the next is the next night, 06:30 UTC.
        #expect(planner.due(at: Self.utc(2026, 11, 1, 6, 31)).isEmpty)
        #expect(planner.nextWake == Self.utc(2026, 11, 2, 6, 30))
    }

    @Test func downtimeThroughATransitionIsCaughtUpOnceWithWhatIsInForce() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        var stored = try Self.schedule(Self.heaterWeek, now: Self.tuesday + 7 * 3600)
        stored.handledThrough = Self.tuesday + 7 * 3600  // the hub stopped at 07:00 …
        planner.load(stored, zone: nil)
        let restart = Self.tuesday + 18 * 3600  // … and came back at 18:00
        let runs = planner.due(at: restart)
        #expect(runs.count == 1)
        #expect(runs.first?.kind == .caughtUp)
        #expect(runs.first?.missed == 2)  // 08:00 and 17:30
        #expect(runs.first?.patch == ["targetTemperature": 21])
        #expect(planner.due(at: restart + 60).isEmpty)
        #expect(planner.schedules["s1"]?.handledThrough == restart)
    }

    @Test func missedRunsWithPolicyNoneAreRecordedNotRun() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        var stored = try Self.schedule(["thing": "frontdoor", "cron": "0 8 * * *", "command": "lock"])
        stored.handledThrough = Self.tuesday
        planner.load(stored, zone: nil)
        #expect(stored.catchUp == .none)
        let runs = planner.due(at: Self.tuesday + 3 * 86_400)
        #expect(runs.count == 1)
        #expect(runs.first?.kind == .missed)
        #expect(runs.first?.missed == 3)
        #expect(runs.first?.command == nil && runs.first?.patch == nil)
    }

    @Test func aLateFiringWithinGraceRuns() throws {
        var planner = SchedulePlanner(defaultZone: .utc, graceSeconds: 90)
        var stored = try Self.schedule(["thing": "frontdoor", "cron": "0 8 * * *", "command": "lock"])
        stored.handledThrough = Self.tuesday
        planner.load(stored, zone: nil)
        let runs = planner.due(at: Self.tuesday + 8 * 3600 + 60)
        #expect(runs.first?.kind == .fired)
        #expect(runs.first?.command == Schedule.CommandRequest(name: "lock", parameters: [:]))
    }

    @Test func aBackwardClockJumpDoesNotRepeatAFiring() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        _ = planner.add(
            try Self.schedule(["thing": "t", "cron": "0 * * * *", "desired": ["on": true]], now: Self.tuesday),
            zone: nil, now: Self.tuesday + 1)
        #expect(planner.due(at: Self.tuesday + 3600).map(\.kind) == [.fired])
        // The clock goes back 30 minutes, then forward again past 01:00.
        planner.recomputeAll()
        #expect(planner.due(at: Self.tuesday + 1800).isEmpty)
        #expect(planner.due(at: Self.tuesday + 3600 + 5).isEmpty)
        #expect(planner.nextWake == Self.tuesday + 7200)
    }

    @Test func aForwardClockJumpCountsTheSkippedFiringsAsMissed() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        _ = planner.add(
            try Self.schedule(
                ["thing": "t", "cron": "0 * * * *", "desired": ["on": true], "catchUp": "latest"], now: Self.tuesday),
            zone: nil, now: Self.tuesday)
        let runs = planner.due(at: Self.tuesday + 5 * 3600 + 600)
        #expect(runs.map(\.kind) == [.caughtUp])
        #expect(runs.first?.missed == 5)
        #expect(runs.first?.patch == ["on": true])
        #expect(planner.nextWake == Self.tuesday + 6 * 3600)
    }

    @Test func aChangeOfTheHubZoneMovesTheNextFiring() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        _ = planner.add(
            try Self.schedule(["thing": "t", "cron": "0 7 * * *", "desired": ["on": true]], now: Self.tuesday),
            zone: nil, now: Self.tuesday)
        #expect(planner.nextWake == Self.tuesday + 7 * 3600)
        planner.setDefaultZone(try ScheduleTimeTests.zone("Europe/Berlin"))
        #expect(planner.nextWake == Self.tuesday + 6 * 3600)  // 07:00 CET
        // A schedule with its own zone does not follow the hub's.
        _ = planner.add(
            try Self.schedule(
                [
                    "id": "ny", "thing": "t", "cron": "0 7 * * *", "desired": ["on": true],
                    "timeZone": "America/New_York",
                ],
                now: Self.tuesday), zone: try ScheduleTimeTests.zone("America/New_York"), now: Self.tuesday)
        #expect(planner.nextWake(of: "ny") == Self.tuesday + 12 * 3600)
        planner.setDefaultZone(.utc)
        #expect(planner.nextWake(of: "ny") == Self.tuesday + 12 * 3600)
    }

    @Test func aManualChangeHoldsUntilTheNextTransitionThatSetsIt() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        let body: JSONValue = [
            "thing": "livingroom",
            "program":
                "weekdays 06:30 targetTemperature=21 mode=heat; weekdays 07:30 mode=eco; weekdays 08:00 targetTemperature=17",
        ]
        _ = planner.add(try Self.schedule(body, now: Self.tuesday), zone: nil, now: Self.tuesday)
        let seven = Self.tuesday + 7 * 3600
        #expect(planner.due(at: Self.tuesday + 6 * 3600 + 1800).first?.kind == .fired)
        // Someone turns the heater up at 07:00.
        let holding = planner.manualChange(
            thing: "livingroom", shadow: nil, attributes: ["targetTemperature", "unrelated"], at: seven)
        #expect(holding == ["s1"])
        #expect(planner.schedules["s1"]?.hold?.until == Self.tuesday + 8 * 3600)
        // 07:30 sets only mode: it fires; the held temperature is untouched.
        let halfPast = planner.due(at: Self.tuesday + 7 * 3600 + 1800)
        #expect(halfPast.first?.patch == ["mode": "eco"])
        // 08:00 sets the temperature: the hold ends and the program applies.
        let eight = planner.due(at: Self.tuesday + 8 * 3600)
        #expect(eight.first?.kind == .fired)
        #expect(eight.first?.patch?["targetTemperature"] == 17)
        #expect(planner.schedules["s1"]?.hold == nil)
        // A change on another shadow or another attribute holds nothing.
        #expect(
            planner.manualChange(thing: "livingroom", shadow: "other", attributes: ["targetTemperature"], at: seven)
                .isEmpty)
        #expect(planner.manualChange(thing: "livingroom", shadow: nil, attributes: ["colour"], at: seven).isEmpty)
    }

    @Test func aHoldForADurationHoldsFiringsThenResumesTheProgram() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        var body = Self.heaterWeek
        body = .object((body.objectValue ?? [:]).merging(["hold": "2h"]) { $1 })
        _ = planner.add(try Self.schedule(body, now: Self.tuesday + 7 * 3600), zone: nil, now: Self.tuesday + 7 * 3600)
        _ = planner.manualChange(
            thing: "livingroom", shadow: nil, attributes: ["targetTemperature"], at: Self.tuesday + 7 * 3600 + 1800)
        // 08:00 falls inside the hold: recorded as held, nothing applied.
        let eight = planner.due(at: Self.tuesday + 8 * 3600)
        #expect(eight.map(\.kind) == [.held])
        #expect(eight.first?.patch == nil)
        #expect(eight.first?.heldAttributes == ["targetTemperature"])
        // 09:30 the hold ends: the program's 17 comes back.
        let end = planner.due(at: Self.tuesday + 9 * 3600 + 1800)
        #expect(end.map(\.kind) == [.resumed])
        #expect(end.first?.patch == ["targetTemperature": 17])
    }

    @Test func anIndefiniteHoldLastsUntilResume() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        var body = Self.heaterWeek.objectValue ?? [:]
        body["hold"] = "indefinite"
        _ = planner.add(try Self.schedule(.object(body), now: Self.tuesday), zone: nil, now: Self.tuesday)
        _ = planner.manualChange(
            thing: "livingroom", shadow: nil, attributes: ["targetTemperature"], at: Self.tuesday + 3600)
        #expect(planner.schedules["s1"]?.hold?.until == nil)
        #expect(planner.due(at: Self.tuesday + 2 * 86_400).allSatisfy { $0.patch == nil })
        let resumed = planner.resume("s1", now: Self.tuesday + 2 * 86_400 + 60)
        #expect(resumed?.kind == .resumed)
        #expect(resumed?.patch == ["targetTemperature": 16])  // Thursday 00:01: Wednesday 22:30's value
        #expect(planner.schedules["s1"]?.hold == nil)
    }

    @Test func aOneShotFiresOnceAndIsDone() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        _ = planner.add(
            try Self.schedule(["thing": "t", "at": "2026-12-01T09:15", "desired": ["on": false]], now: Self.tuesday),
            zone: nil, now: Self.tuesday)
        #expect(planner.nextWake == Self.tuesday + 9 * 3600 + 900)
        #expect(planner.due(at: Self.tuesday + 9 * 3600 + 900).map(\.kind) == [.fired])
        #expect(planner.nextWake == nil)
    }

    @Test func aDisabledScheduleDoesNotFireAndEnablingStartsFromNow() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        _ = planner.add(
            try Self.schedule(["thing": "t", "cron": "0 * * * *", "desired": ["on": true]], now: Self.tuesday),
            zone: nil, now: Self.tuesday)
        _ = planner.setEnabled("s1", false, now: Self.tuesday)
        #expect(planner.due(at: Self.tuesday + 5 * 3600).isEmpty)
        _ = planner.setEnabled("s1", true, now: Self.tuesday + 5 * 3600 + 10)
        #expect(planner.due(at: Self.tuesday + 5 * 3600 + 20).isEmpty)
        #expect(planner.nextWake == Self.tuesday + 6 * 3600)
    }

    @Test func tenThousandSchedulesComeOutInTimeOrder() throws {
        var planner = SchedulePlanner(defaultZone: .utc)
        for index in 0..<10_000 {
            let minute = (index * 7) % 60
            let hour = (index * 13) % 24
            _ = planner.add(
                try Schedule(
                    request: [
                        "thing": .string("t\(index % 100)"), "cron": .string("\(minute) \(hour) * * *"),
                        "desired": ["i": 1],
                    ],
                    id: nil, defaultID: "s\(index)", now: Self.tuesday - 1), zone: nil, now: Self.tuesday - 1)
        }
        var fired = 0
        var last: Int64 = 0
        while let wake = planner.nextWake, wake < Self.tuesday + 86_400 - 1 {
            #expect(wake >= last)
            last = wake
            fired += planner.due(at: wake).count
        }
        #expect(fired == 10_000)
    }

    @Test(arguments: [
        (["program": "daily 06:30 t=1"] as JSONValue, "'thing' is required"),
        (["thing": "t"] as JSONValue, "exactly one of 'program', 'cron' or 'at'"),
        (["thing": "t", "cron": "0 7 * * *"] as JSONValue, "needs 'desired'"),
        (["thing": "t", "cron": "61 7 * * *", "desired": ["a": 1]] as JSONValue, "cron minute '61'"),
        (["thing": "t", "program": "daily 6:30"] as JSONValue, "must be DAYS HH:MM"),
        (["thing": "t", "program": "daily 06:30 t=1", "hold": "soon"] as JSONValue, "hold 'soon'"),
        (["thing": "t", "at": "tomorrow", "desired": ["a": 1]] as JSONValue, "is not a date-time"),
        (["thing": "t", "program": "daily 06:30 t=1", "catchUp": "all"] as JSONValue, "none or latest"),
        (["id": "a b", "thing": "t", "program": "daily 06:30 t=1"] as JSONValue, "schedule id 'a b'"),
        (["thing": "t", "program": "daily 06:30 t=1", "colour": "red"] as JSONValue, "'colour' is not a known key"),
    ])
    func badSchedulesSayWhatIsWrong(_ body: JSONValue, _ expected: String) {
        do {
            _ = try Schedule(request: body, id: nil, defaultID: "s1", now: 0)
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func theStoredFormRoundTrips() throws {
        var schedule = try Self.schedule(Self.heaterWeek, now: 1000)
        schedule.handledThrough = 5000
        schedule.hold = Schedule.Hold(attributes: ["targetTemperature"], since: 4000, until: 9000)
        #expect(try Schedule(stored: schedule.json) == schedule)
        let command = try Self.schedule(
            ["thing": "frontdoor", "cron": "0 22 * * *", "command": "lock", "parameters": ["force": true]], now: 1)
        #expect(try Schedule(stored: command.json) == command)
    }

    @Test func datesAndDurationsAsPeopleTypeThem() throws {
        let berlin = try ScheduleTimeTests.zone("Europe/Berlin")
        #expect(try LocalTimeText.instant("2027-03-28", in: berlin) == Self.utc(2027, 3, 27, 23))
        #expect(try LocalTimeText.instant("2027-03-28T02:30", in: berlin) == Self.utc(2027, 3, 28, 1))
        #expect(try LocalTimeText.instant("2027-03-28T02:30:00Z", in: berlin) == Self.utc(2027, 3, 28, 2, 30))
        #expect(try LocalTimeText.instant("2027-03-28 04:00+02:00", in: .utc) == Self.utc(2027, 3, 28, 2))
        #expect(LocalTimeText.iso(Self.utc(2027, 3, 28, 1), in: berlin) == "2027-03-28T03:00:00+02:00")
        #expect(try LocalTimeText.duration("1h30m") == 5400)
        #expect(LocalTimeText.durationText(5400) == "1h30m")
        #expect(throws: LocalTimeText.Failure.self) { try LocalTimeText.duration("2 hours") }
        #expect(throws: LocalTimeText.Failure.self) { try LocalTimeText.parse("2027-02-30") }
    }
}

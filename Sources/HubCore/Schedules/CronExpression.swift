/// A 5-field cron expression: minute, hour, day of month, month, day of week. Fields take
/// `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, and names (`jan`…`dec`,
/// `sun`…`sat`; 7 is Sunday too). As in Vixie cron, when both day fields are restricted a
/// day matching either one counts.
public struct CronExpression: Sendable, Equatable {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public let text: String
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let daysOfMonth: Set<Int>
    public let months: Set<Int>
    public let weekdays: Set<Int>
    let dayOfMonthRestricted: Bool
    let weekdayRestricted: Bool

    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(_ text: String) throws(Failure) {
        self.text = text
        let fields = text.split(whereSeparator: \.isWhitespace).map { String($0).lowercased() }
        guard fields.count == 5 else {
            throw Failure(
                description:
                    "cron '\(text)' must have 5 fields (minute hour day-of-month month day-of-week), got \(fields.count)"
            )
        }
        minutes = try Self.field(fields[0], name: "minute", range: 0...59, names: [])
        hours = try Self.field(fields[1], name: "hour", range: 0...23, names: [])
        daysOfMonth = try Self.field(fields[2], name: "day of month", range: 1...31, names: [])
        months = try Self.field(fields[3], name: "month", range: 1...12, names: Self.monthNames, firstName: 1)
        weekdays = Set(
            try Self.field(fields[4], name: "day of week", range: 0...7, names: Self.dayNames).map { $0 % 7 })
        dayOfMonthRestricted = fields[2] != "*"
        weekdayRestricted = fields[4] != "*"
    }

    static func field(_ text: String, name: String, range: ClosedRange<Int>, names: [String], firstName: Int = 0)
        throws(Failure) -> Set<Int>
    {
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else {
                    throw Failure(description: "cron \(name) '\(part)': the step after '/' must be a positive number")
                }
                step = parsed
            }
            let base = pieces[0]
            var lower = range.lowerBound
            var upper = range.upperBound
            if base != "*" {
                let bounds = base.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
                func value(_ token: Substring) throws(Failure) -> Int {
                    if let number = Int(token), range.contains(number) { return number }
                    if let index = names.firstIndex(of: String(token)) { return index + firstName }
                    throw Failure(
                        description:
                            "cron \(name) '\(token)' must be \(range.lowerBound)–\(range.upperBound)\(names.isEmpty ? "" : " or a name (\(names.first!)…\(names.last!))")"
                    )
                }
                lower = try value(bounds[0])
                upper = bounds.count == 2 ? try value(bounds[1]) : (pieces.count == 2 ? range.upperBound : lower)
                guard lower <= upper else { throw Failure(description: "cron \(name) range '\(base)' runs backwards") }
            }
            values.formUnion(stride(from: lower, through: upper, by: step))
        }
        return values
    }

    /// Whether the schedule runs on this local date.
    public func matches(date: CivilTime) -> Bool {
        guard months.contains(date.month) else { return false }
        let byDay = daysOfMonth.contains(date.day)
        let byWeekday = weekdays.contains(date.weekday)
        if dayOfMonthRestricted && weekdayRestricted { return byDay || byWeekday }
        return byDay && byWeekday
    }

    /// The local times of day it runs at, in order, as (hour, minute).
    var timesOfDay: [(hour: Int, minute: Int)] {
        hours.sorted().flatMap { hour in minutes.sorted().map { (hour, $0) } }
    }
}

/// When a schedule fires next, and how DST bent it.
public struct Firing: Sendable, Equatable {
    public enum Adjustment: String, Sendable {
        case none
        /// The local time does not exist that night; it fires at the first valid instant after.
        case skippedToNextValid = "skipped-to-next-valid"
        /// The local time happens twice that night; it fires at the first one only.
        case firstOfRepeated = "first-of-repeated"
    }

    /// The UTC instant (epoch seconds).
    public var instant: Int64
    /// The local time the schedule names (what the person asked for).
    public var scheduled: CivilTime
    public var adjustment: Adjustment
}

extension CronExpression {
    /// The first firing strictly after `instant`, in `zone`, looking at most `horizonDays` ahead.
    public func nextFiring(after instant: Int64, in zone: TimeZoneRules, horizonDays: Int = 366 * 5) -> Firing? {
        let start = zone.local(instant)
        let firstDay = CivilTime.days(year: start.year, month: start.month, day: start.day)
        for dayOffset in -1...Int64(horizonDays) {
            let date = CivilTime(seconds: (firstDay + dayOffset) * 86_400)
            guard matches(date: date) else { continue }
            for time in timesOfDay {
                let local = CivilTime(
                    year: date.year, month: date.month, day: date.day, hour: time.hour, minute: time.minute)
                let resolution = zone.resolve(local)
                guard resolution.instant > instant else { continue }
                switch resolution {
                case .exact(let at): return Firing(instant: at, scheduled: local, adjustment: .none)
                case .repeated(let at): return Firing(instant: at, scheduled: local, adjustment: .firstOfRepeated)
                case .skipped(let at): return Firing(instant: at, scheduled: local, adjustment: .skippedToNextValid)
                }
            }
        }
        return nil
    }

    /// The next `count` firings after `instant` (what `hubctl schedule next` lists).
    public func firings(after instant: Int64, count: Int, in zone: TimeZoneRules) -> [Firing] {
        var result: [Firing] = []
        var cursor = instant
        while result.count < count, let next = nextFiring(after: cursor, in: zone) {
            result.append(next)
            cursor = next.instant
        }
        return result
    }
}

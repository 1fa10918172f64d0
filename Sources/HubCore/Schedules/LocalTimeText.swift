/// Dates and durations as people type them (`hubctl schedule next --from 2027-03-28`,
/// `--hold 2h`) and as the hub prints them (ISO 8601 with the zone's offset).
public enum LocalTimeText {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` (or a space for the `T`), optionally followed by
    /// `Z` or an offset `±HH:MM` / `±HHMM`. Without an offset the time is local to the zone the
    /// caller gives it.
    public static func parse(_ text: String) throws(Failure) -> (time: CivilTime, offsetSeconds: Int32?) {
        let failure = Failure(
            description:
                "'\(text)' is not a date-time: use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS], optionally with Z or ±HH:MM")
        var rest = Substring(text.trimmingPrefix(while: \.isWhitespace))
        func number(_ digits: Int) -> Int? {
            guard rest.count >= digits, rest.prefix(digits).allSatisfy(\.isASCII), let value = Int(rest.prefix(digits))
            else { return nil }
            rest = rest.dropFirst(digits)
            return value
        }
        func expect(_ character: Character) -> Bool {
            guard rest.first == character else { return false }
            rest = rest.dropFirst()
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            (1...12).contains(month), (1...CivilTime.daysIn(month: month, year: year)).contains(day)
        else { throw failure }
        var time = CivilTime(year: year, month: month, day: day)
        if rest.first == "T" || rest.first == "t" || rest.first == " " {
            rest = rest.dropFirst()
            guard let hour = number(2), expect(":"), let minute = number(2), hour < 24, minute < 60 else {
                throw failure
            }
            time.hour = hour
            time.minute = minute
            if expect(":") {
                guard let second = number(2), second < 60 else { throw failure }
                time.second = second
            }
        }
        if rest.isEmpty { return (time, nil) }
        if rest == "Z" || rest == "z" { return (time, 0) }
        guard let sign = rest.first, sign == "+" || sign == "-" else { throw failure }
        rest = rest.dropFirst()
        guard let hours = number(2) else { throw failure }
        _ = expect(":")
        guard let minutes = number(2), rest.isEmpty, hours <= 14, minutes < 60 else { throw failure }
        let offset = Int32(hours * 3600 + minutes * 60)
        return (time, sign == "-" ? -offset : offset)
    }

    /// The instant a typed date-time names: its own offset when it has one, else local in `zone`
    /// (a skipped local time gives the first valid instant after it, a repeated one the first).
    public static func instant(_ text: String, in zone: TimeZoneRules) throws(Failure) -> Int64 {
        let (time, offset) = try parse(text)
        if let offset { return time.seconds - Int64(offset) }
        return zone.resolve(time).instant
    }

    /// `2027-03-28T03:00:00+02:00`.
    public static func iso(_ instant: Int64, in zone: TimeZoneRules) -> String {
        let offset = zone.offset(at: instant)
        let local = CivilTime(seconds: instant + Int64(offset))
        return "\(local.isoDate)T\(local.isoClock)\(offsetText(offset))"
    }

    /// `2027-03-28T01:00:00Z`.
    public static func isoUTC(_ instant: Int64) -> String {
        let time = CivilTime(seconds: instant)
        return "\(time.isoDate)T\(time.isoClock)Z"
    }

    public static func offsetText(_ offset: Int32) -> String {
        let magnitude = abs(Int(offset))
        return "\(offset < 0 ? "-" : "+")\(two(magnitude / 3600)):\(two(magnitude % 3600 / 60))"
    }

    static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// A duration such as `90s`, `45m`, `2h`, `1d`, `1h30m`, in seconds.
    public static func duration(_ text: String) throws(Failure) -> Int64 {
        let failure = Failure(
            description: "'\(text)' is not a duration: use a number with s, m, h or d (90s, 45m, 2h, 1h30m, 1d)")
        var total: Int64 = 0
        var digits = ""
        var sawUnit = false
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
                continue
            }
            let unit: Int64
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            default: throw failure
            }
            guard let value = Int64(digits), value <= 1_000_000 else { throw failure }
            total += value * unit
            digits = ""
            sawUnit = true
        }
        guard digits.isEmpty, sawUnit, total > 0 else { throw failure }
        return total
    }

    /// `2h`, `1h30m`, `45s`: the short form of a number of seconds.
    public static func durationText(_ seconds: Int64) -> String {
        if seconds <= 0 { return "0s" }
        var rest = seconds
        var text = ""
        for (unit, name) in [(Int64(86_400), "d"), (3600, "h"), (60, "m"), (1, "s")] where rest >= unit {
            text += "\(rest / unit)\(name)"
            rest %= unit
        }
        return text
    }
}

extension CivilTime {
    var isoDate: String {
        let y = String(year)
        return
            "\(String(repeating: "0", count: max(0, 4 - y.count)))\(y)-\(LocalTimeText.two(month))-\(LocalTimeText.two(day))"
    }

    var isoClock: String { "\(LocalTimeText.two(hour)):\(LocalTimeText.two(minute)):\(LocalTimeText.two(second))" }

    /// `2027-03-28T02:30` (no seconds, no offset): a local time as a schedule names it.
    public var isoLocal: String { "\(isoDate)T\(LocalTimeText.two(hour)):\(LocalTimeText.two(minute))" }
}

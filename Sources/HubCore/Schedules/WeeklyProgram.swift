/// A week of set points, as people write them:
///
///     mon-fri 06:30 targetTemperature=21 mode=heat; mon-fri 08:00 targetTemperature=17;
///     mon-fri 17:30 targetTemperature=21; mon-fri 22:30 targetTemperature=16;
///     sat,sun 08:00 targetTemperature=21; sat,sun 23:00 targetTemperature=16
///
/// Entries are separated by `;` or new lines. Days are names (`mon`…`sun`), ranges (`mon-fri`),
/// lists (`sat,sun`) or `daily`, `weekdays`, `weekends`. Values are typed as in hubctl
/// (`21` a number, `true` a boolean, `'"21"'` a string). What is in force at any moment is what
/// the transitions up to then set, each attribute from the latest one that names it.
public struct WeeklyProgram: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let weekdays: Set<Int>
        public let hour: Int
        public let minute: Int
        public let patch: JSONObject
        /// The entry as a cron expression, built once: next-fire computation runs often.
        let cron: CronExpression

        init(weekdays: Set<Int>, hour: Int, minute: Int, patch: JSONObject) {
            self.weekdays = weekdays
            self.hour = hour
            self.minute = minute
            self.patch = patch
            let days = weekdays.sorted().map(String.init).joined(separator: ",")
            // Built from validated numbers: it always parses.
            self.cron = try! CronExpression("\(minute) \(hour) * * \(days)")
        }
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public let text: String
    public let entries: [Entry]

    public init(_ text: String) throws(Failure) {
        self.text = text
        var entries: [Entry] = []
        let lines = text.split(whereSeparator: { $0 == ";" || $0 == "\n" })
            .map { $0.trimmingPrefix(while: \.isWhitespace) }.filter { !$0.isEmpty }
        for line in lines {
            let words = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard words.count >= 3 else {
                throw Failure(
                    description:
                        "program entry '\(line)' must be DAYS HH:MM attribute=value… (e.g. mon-fri 06:30 targetTemperature=21)"
                )
            }
            let days = try Self.days(words[0].lowercased(), entry: String(line))
            let clock = words[1].split(separator: ":")
            guard clock.count == 2, let hour = Int(clock[0]), let minute = Int(clock[1]), (0...23).contains(hour),
                (0...59).contains(minute)
            else {
                throw Failure(
                    description: "program entry '\(line)': the time '\(words[1])' must be HH:MM from 00:00 to 23:59")
            }
            let patch: JSONObject
            do {
                patch = try Assignments.parse(Array(words[2...]))
            } catch {
                throw Failure(description: "program entry '\(line)': \(error.description)")
            }
            entries.append(Entry(weekdays: days, hour: hour, minute: minute, patch: patch))
        }
        guard !entries.isEmpty else { throw Failure(description: "a program needs at least one entry") }
        self.entries = entries
    }

    static func days(_ text: String, entry: String) throws(Failure) -> Set<Int> {
        switch text {
        case "daily", "everyday": return Set(0...6)
        case "weekdays": return Set(1...5)
        case "weekends", "weekend": return [0, 6]
        default: break
        }
        let names = CronExpression.dayNames
        var result = Set<Int>()
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-")
            // "-" alone splits into nothing: checked before indexing (found by the fuzzer).
            guard (1...2).contains(bounds.count), let first = names.firstIndex(of: String(bounds[0])) else {
                throw Failure(
                    description:
                        "program entry '\(entry)': '\(part)' is not a day (mon…sun, mon-fri, daily, weekdays, weekends)"
                )
            }
            guard bounds.count == 2 else {
                result.insert(first)
                continue
            }
            guard let last = names.firstIndex(of: String(bounds[1])) else {
                throw Failure(description: "program entry '\(entry)': '\(bounds[1])' is not a day")
            }
            var day = first
            while true {
                result.insert(day)
                if day == last { break }
                day = (day + 1) % 7  // sat-mon wraps over the weekend
            }
        }
        return result
    }

    /// The attributes the program sets (a manual change to one of them starts a hold).
    public var attributes: Set<String> { Set(entries.flatMap(\.patch.keys)) }

    /// The first transition strictly after `instant`. Entries that land on the same instant (two
    /// times inside one DST gap, or two lines for one time) apply together, later lines winning.
    public func nextTransition(after instant: Int64, in zone: TimeZoneRules) -> (firing: Firing, patch: JSONObject)? {
        var best: (firing: Firing, patch: JSONObject)?
        for entry in entries {
            guard let firing = entry.cron.nextFiring(after: instant, in: zone, horizonDays: 8) else { continue }
            if let current = best, firing.instant == current.firing.instant {
                best?.patch.merge(entry.patch) { _, later in later }
            } else if best == nil || firing.instant < best!.firing.instant {
                best = (firing, entry.patch)
            }
        }
        return best
    }

    /// The transitions after `instant`, in order, with the patch each applies.
    public func transitions(after instant: Int64, count: Int, in zone: TimeZoneRules) -> [(
        firing: Firing, patch: JSONObject
    )] {
        var result: [(firing: Firing, patch: JSONObject)] = []
        var cursor = instant
        while result.count < count, let next = nextTransition(after: cursor, in: zone) {
            result.append(next)
            cursor = next.firing.instant
        }
        return result
    }

    /// What the program says should be in force at `instant`: every attribute from the latest
    /// transition at or before it that names it (looking back a week), and when that was.
    public func inForce(at instant: Int64, in zone: TimeZoneRules) -> (state: JSONObject, since: Int64)? {
        var cursor = instant - 8 * 86_400
        var state = JSONObject()
        var since: Int64?
        while let next = nextTransition(after: cursor, in: zone), next.firing.instant <= instant {
            state.merge(next.patch) { _, later in later }
            since = next.firing.instant
            cursor = next.firing.instant
        }
        return since.map { (state, $0) }
    }
}

/// A schedule: when (a cron expression, a weekly program or one date-time, in an IANA zone) and
/// what (a desired-state patch of one shadow, or a command) — docs/schedules.md.
public struct Schedule: Sendable, Equatable {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    public enum Trigger: Sendable, Equatable {
        case cron(CronExpression)
        /// A week of set points; its entries carry the patches.
        case program(WeeklyProgram)
        /// Once, at a local date-time.
        case once(CivilTime)
    }

    public enum Action: Sendable, Equatable {
        /// Merge into the shadow's desired state (what a program's entries do).
        case desired(JSONObject)
        /// Request a command through the ledger.
        case command(name: String, parameters: JSONObject)
    }

    public enum CatchUp: String, Sendable, Equatable, CaseIterable {
        /// Runs missed while the hub was down are recorded as missed, not run.
        case none
        /// Apply once what should be in force now (a program's state; a cron's or one-shot's action).
        case latest
    }

    /// How long a manual change to an attribute a program sets holds the program off it.
    public enum HoldPolicy: Sendable, Equatable {
        case nextTransition
        case indefinite
        case duration(seconds: Int64)

        public init(_ text: String) throws(Failure) {
            switch text {
            case "next-transition": self = .nextTransition
            case "indefinite", "forever": self = .indefinite
            default:
                do {
                    self = .duration(seconds: try LocalTimeText.duration(text))
                } catch {
                    throw Failure("hold '\(text)' must be next-transition, indefinite or a duration (2h, 90m)")
                }
            }
        }

        public var text: String {
            switch self {
            case .nextTransition: return "next-transition"
            case .indefinite: return "indefinite"
            case .duration(let seconds): return LocalTimeText.durationText(seconds)
            }
        }
    }

    /// Attributes a manual change took over, and until when (nil: until resumed).
    public struct Hold: Sendable, Equatable {
        public var attributes: [String]
        public var since: Int64
        public var until: Int64?

        public init(attributes: [String], since: Int64, until: Int64?) {
            self.attributes = attributes
            self.since = since
            self.until = until
        }
    }

    public var id: String
    public var thing: String
    public var shadow: String?
    public var trigger: Trigger
    public var action: Action?
    /// IANA zone name; nil follows the hub's zone (and its changes).
    public var timeZone: String?
    public var enabled: Bool
    public var catchUp: CatchUp
    public var holdPolicy: HoldPolicy
    public var hold: Hold?
    /// The instant up to which firings have been dealt with (run, caught up or recorded missed).
    public var handledThrough: Int64
    public var createdAt: Int64
    /// Who made (or last replaced) it: it acts with that identity's rights as they are when it
    /// fires (docs/security.md). nil for schedules stored before identities were recorded.
    public var createdBy: Identity?

    /// The identity a firing acts as.
    public var identity: Identity {
        .schedule(id, creator: createdBy ?? .unidentified("a schedule stored before creators were recorded"))
    }

    /// The clientToken of the desired updates a schedule makes (and how a hold tells them apart).
    public static let clientTokenPrefix = "schedule:"
    public var clientToken: String { Self.clientTokenPrefix + id }

    public var isProgram: Bool {
        if case .program = trigger { return true }
        return false
    }

    /// 1–48 characters of letters, digits, `-` and `_` (it goes into a 64-byte clientToken).
    public static func validateID(_ id: String) throws(Failure) {
        guard (1...48).contains(id.utf8.count),
            id.utf8.allSatisfy({ $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else {
            throw Failure("schedule id '\(id)' must be 1–48 characters of letters, digits, '-' and '_'")
        }
    }
}

extension UInt8 {
    fileprivate var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}

// MARK: - When it fires

extension Schedule {
    public struct CommandRequest: Sendable, Equatable {
        public var name: String
        public var parameters: JSONObject

        public init(name: String, parameters: JSONObject) {
            self.name = name
            self.parameters = parameters
        }
    }

    /// One firing: when, and what it applies.
    public struct Occurrence: Sendable, Equatable {
        public var firing: Firing
        /// The desired patch (a program's entry, or the schedule's desired action).
        public var patch: JSONObject?
        public var command: CommandRequest?
    }

    /// The first firing strictly after `instant`.
    public func nextOccurrence(after instant: Int64, in zone: TimeZoneRules) -> Occurrence? {
        switch trigger {
        case .program(let program):
            return program.nextTransition(after: instant, in: zone).map {
                Occurrence(firing: $0.firing, patch: $0.patch, command: nil)
            }
        case .cron(let cron):
            return cron.nextFiring(after: instant, in: zone).map { occurrence(of: $0) }
        case .once(let local):
            let firing: Firing
            switch zone.resolve(local) {
            case .exact(let at): firing = Firing(instant: at, scheduled: local, adjustment: .none)
            case .repeated(let at): firing = Firing(instant: at, scheduled: local, adjustment: .firstOfRepeated)
            case .skipped(let at): firing = Firing(instant: at, scheduled: local, adjustment: .skippedToNextValid)
            }
            return firing.instant > instant ? occurrence(of: firing) : nil
        }
    }

    func occurrence(of firing: Firing) -> Occurrence {
        var occurrence = Occurrence(firing: firing, patch: nil, command: nil)
        switch action {
        case .desired(let patch)?: occurrence.patch = patch
        case .command(let name, let parameters)?:
            occurrence.command = CommandRequest(name: name, parameters: parameters)
        case nil: break
        }
        return occurrence
    }

    /// The next `count` firings after `instant` (what `hubctl schedule next` lists).
    public func occurrences(after instant: Int64, count: Int, in zone: TimeZoneRules) -> [Occurrence] {
        var result: [Occurrence] = []
        var cursor = instant
        while result.count < count, let next = nextOccurrence(after: cursor, in: zone) {
            result.append(next)
            cursor = next.firing.instant
        }
        return result
    }
}

// MARK: - JSON

extension Schedule {
    /// A schedule from an API request. `id` is the path's id for a PUT; a POST names it in the
    /// body or gets `defaultID`. Every error names the field and the rule.
    public init(request: JSONValue, id pathID: String?, defaultID: String, now: Int64) throws(Failure) {
        guard case .object(let body) = request else {
            throw Failure("a schedule must be a JSON object: {\"thing\": …, \"program\": …} (docs/schedules.md)")
        }
        let reader = DocumentReader<Failure>(request) { path, rule in Failure("schedule field '\(path)' \(rule)") }
        try reader.onlyKeys([
            "id", "thing", "shadow", "program", "cron", "at", "desired", "command", "parameters", "timeZone", "enabled",
            "catchUp", "hold",
        ])
        func string(_ key: String) throws(Failure) -> String? { try reader.string(key) }
        let bodyID = try string("id")
        if let pathID, let bodyID, pathID != bodyID {
            throw Failure("schedule id '\(bodyID)' in the body differs from '\(pathID)' in the path")
        }
        id = pathID ?? bodyID ?? defaultID
        try Self.validateID(id)
        guard let thing = try string("thing"), !thing.isEmpty else {
            throw Failure("schedule field 'thing' is required: the thing whose shadow it changes")
        }
        self.thing = thing
        shadow = try string("shadow").flatMap { $0.isEmpty ? nil : $0 }
        timeZone = try string("timeZone").flatMap { $0.isEmpty ? nil : $0 }

        let triggers = ["program", "cron", "at"].filter { body[$0] != nil && body[$0] != .null }
        guard triggers.count == 1 else {
            throw Failure("a schedule needs exactly one of 'program', 'cron' or 'at' (got \(triggers.count))")
        }
        let triggerText = try string(triggers[0]) ?? ""
        switch triggers[0] {
        case "program":
            do throws(WeeklyProgram.Failure) {
                trigger = .program(try WeeklyProgram(triggerText))
            } catch {
                throw Failure(error.description)
            }
        case "cron":
            do throws(CronExpression.Failure) {
                trigger = .cron(try CronExpression(triggerText))
            } catch {
                throw Failure(error.description)
            }
        default:
            let parsed: (time: CivilTime, offsetSeconds: Int32?)
            do throws(LocalTimeText.Failure) {
                parsed = try LocalTimeText.parse(triggerText)
            } catch {
                throw Failure("'at': \(error.description)")
            }
            guard parsed.offsetSeconds == nil else {
                throw Failure(
                    "'at' is a local time in the schedule's zone: write it without an offset (\(parsed.time.isoLocal))")
            }
            trigger = .once(parsed.time)
        }

        let parameters = try reader.object("parameters")?.value.objectValue ?? [:]
        switch (body["desired"], try string("command")) {
        case (nil, nil), (.null?, nil):
            if case .program = trigger {
                action = nil
            } else {
                throw Failure("a cron or one-shot schedule needs 'desired' (a patch) or 'command' (a command name)")
            }
        case (.object(let patch)?, nil):
            if case .program = trigger {
                throw Failure("a program's entries carry their own values: 'desired' is for cron and one-shot")
            }
            guard !patch.isEmpty else { throw Failure("schedule field 'desired' must not be empty") }
            action = .desired(patch)
        case (nil, let name?), (.null?, let name?):
            if case .program = trigger {
                throw Failure("a program sets desired state; use a cron or one-shot schedule to issue a command")
            }
            action = .command(name: name, parameters: parameters)
        case (_?, _?):
            throw Failure("a schedule has either 'desired' or 'command', not both")
        case (_?, nil):
            throw Failure("schedule field 'desired' must be a JSON object of attribute values")
        }

        enabled = try reader.bool("enabled") ?? true
        if let text = try string("catchUp") {
            guard let value = CatchUp(rawValue: text) else {
                throw Failure("schedule field 'catchUp' must be none or latest (got '\(text)')")
            }
            catchUp = value
        } else {
            // A program says what should be in force: after downtime that is what to apply. A
            // command or a one-shot change hours late could surprise (a door unlocked at night).
            catchUp = trigger.isProgramTrigger ? .latest : .none
        }
        holdPolicy = try (try string("hold")).map { text throws(Failure) in try HoldPolicy(text) } ?? .nextTransition
        hold = nil
        handledThrough = now
        createdAt = now
        createdBy = nil
    }

    /// The stored and displayed form (computed fields such as next firings are added by the hub).
    public var json: JSONValue {
        var object: JSONObject = ["id": .string(id), "thing": .string(thing)]
        if let shadow { object["shadow"] = .string(shadow) }
        switch trigger {
        case .program(let program): object["program"] = .string(program.text)
        case .cron(let cron): object["cron"] = .string(cron.text)
        case .once(let time): object["at"] = .string(time.isoLocal)
        }
        switch action {
        case .desired(let patch)?: object["desired"] = .object(patch)
        case .command(let name, let parameters)?:
            object["command"] = .string(name)
            object["parameters"] = .object(parameters)
        case nil: break
        }
        if let timeZone { object["timeZone"] = .string(timeZone) }
        object["enabled"] = .bool(enabled)
        object["catchUp"] = .string(catchUp.rawValue)
        if isProgram { object["hold"] = .string(holdPolicy.text) }
        if let hold {
            object["held"] = [
                "attributes": .array(hold.attributes.map(JSONValue.string)), "since": .integer(hold.since),
                "until": hold.until.map(JSONValue.integer) ?? .null,
            ]
        }
        object["handledThrough"] = .integer(handledThrough)
        object["createdAt"] = .integer(createdAt)
        if let createdBy { object["createdBy"] = createdBy.json }
        return .object(object)
    }

    /// Reads the stored form back.
    public init(stored: JSONValue) throws(Failure) {
        var request = stored.objectValue ?? [:]
        let handled = request.removeValue(forKey: "handledThrough")?.integerValue
        let created = request.removeValue(forKey: "createdAt")?.integerValue
        let held = request.removeValue(forKey: "held")
        let creator = request.removeValue(forKey: "createdBy").flatMap(Identity.init(json:))
        try self.init(request: .object(request), id: nil, defaultID: "", now: created ?? 0)
        handledThrough = handled ?? createdAt
        createdBy = creator
        if case .object(let value)? = held {
            hold = Hold(
                attributes: value["attributes"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                since: value["since"]?.integerValue ?? 0, until: value["until"]?.integerValue)
        }
    }
}

extension Schedule.Trigger {
    var isProgramTrigger: Bool {
        if case .program = self { return true }
        return false
    }
}

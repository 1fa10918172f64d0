import HeapModule

/// Decides what every schedule does, and when, on instants the caller passes in: no clock, no
/// I/O, so every rule is tested with explicit times (docs/schedules.md).
///
/// Each enabled schedule has one wake-up time in a min-heap: its next firing, or the end of a
/// hold if that comes first. ``due(at:)`` pops what is due and says what to run. A schedule
/// records the instant up to which its firings were dealt with (`handledThrough`), so a firing
/// is dealt with once whatever the clock does: after a backward jump nothing fires again, after
/// a forward jump or downtime the firings passed over are missed and caught up by policy.
public struct SchedulePlanner: Sendable {
    /// What a schedule is to do now.
    public struct Run: Sendable, Equatable {
        public enum Kind: String, Sendable {
            /// A firing on time (within the grace period).
            case fired
            /// Firings were missed (hub down, clock jump); what should be in force now is applied.
            case caughtUp = "caught-up"
            /// Firings were missed and the policy is none: recorded, nothing applied.
            case missed
            /// A program's firing whose every attribute is held by a manual change.
            case held
            /// A hold ended (its duration passed, or `resume`): the program's values come back.
            case resumed
            /// A program added or enabled: what it says should be in force now is applied.
            case applied
        }

        public var scheduleID: String
        public var kind: Kind
        /// The firing concerned (the latest one, when several were missed).
        public var occurrence: Schedule.Occurrence?
        /// Firings passed over without running.
        public var missed: Int = 0
        /// The desired patch to apply, if any.
        public var patch: JSONObject?
        public var command: Schedule.CommandRequest?
        /// Attributes left alone because a manual change holds them.
        public var heldAttributes: [String] = []
    }

    struct Wake: Comparable {
        var instant: Int64
        var id: String

        static func < (lhs: Wake, rhs: Wake) -> Bool {
            (lhs.instant, lhs.id) < (rhs.instant, rhs.id)
        }
    }

    public private(set) var schedules: [String: Schedule] = [:]
    /// The hub's zone, for schedules that name none.
    public private(set) var defaultZone: TimeZoneRules
    private var zones: [String: TimeZoneRules] = [:]
    private var queue = Heap<Wake>()
    /// The live wake-up of each schedule; heap entries that disagree are stale and skipped.
    private var wakes: [String: Int64] = [:]
    private var byThing: [String: Set<String>] = [:]
    /// Schedules changed since the last ``takeChanged()`` (the caller stores them).
    private var changed: Set<String> = []
    /// A firing at most this late still runs as itself; later ones count as missed.
    public var graceSeconds: Int64
    /// Missed firings counted one by one up to this many (a minutely cron down for a month).
    public static let missedCountLimit = 10_000

    public init(defaultZone: TimeZoneRules, graceSeconds: Int64 = 90) {
        self.defaultZone = defaultZone
        self.graceSeconds = graceSeconds
    }

    public var count: Int { schedules.count }

    public func zone(of schedule: Schedule) -> TimeZoneRules {
        schedule.timeZone.flatMap { zones[$0] } ?? defaultZone
    }

    /// The earliest wake-up, for the caller's sleep.
    public var nextWake: Int64? {
        mutating get {
            while let top = queue.min, wakes[top.id] != top.instant { queue.removeMin() }
            return queue.min?.instant
        }
    }

    public func nextWake(of id: String) -> Int64? { wakes[id] }

    // MARK: - Changes

    /// Puts a stored schedule back as it was (at start): missed firings come out of ``due(at:)``.
    public mutating func load(_ schedule: Schedule, zone: TimeZoneRules?) {
        insert(schedule, zone: zone)
    }

    /// Adds or replaces a schedule made now. An enabled program with catch-up `latest` applies
    /// what it says should be in force at once: a heater program takes effect when added.
    public mutating func add(_ schedule: Schedule, zone: TimeZoneRules?, now: Int64) -> Run? {
        var schedule = schedule
        schedule.handledThrough = now
        schedule.hold = nil
        insert(schedule, zone: zone)
        changed.insert(schedule.id)
        return applyInForce(schedule, kind: .applied, now: now)
    }

    public mutating func remove(_ id: String) {
        guard let schedule = schedules.removeValue(forKey: id) else { return }
        byThing[schedule.thing]?.remove(id)
        wakes[id] = nil
        changed.remove(id)
    }

    /// Enabling starts from now: what was skipped while disabled is not caught up.
    public mutating func setEnabled(_ id: String, _ enabled: Bool, now: Int64) -> Run? {
        guard var schedule = schedules[id], schedule.enabled != enabled else { return nil }
        schedule.enabled = enabled
        if enabled {
            schedule.handledThrough = now
            schedule.hold = nil
        }
        store(schedule)
        return enabled ? applyInForce(schedule, kind: .applied, now: now) : nil
    }

    /// Ends a hold: the program's values in force now come back.
    public mutating func resume(_ id: String, now: Int64) -> Run? {
        guard var schedule = schedules[id] else { return nil }
        let held = schedule.hold?.attributes ?? []
        schedule.hold = nil
        store(schedule)
        guard schedule.enabled, var run = applyInForce(schedule, kind: .resumed, now: now, force: true) else {
            return nil
        }
        run.heldAttributes = held
        return run
    }

    /// A change of desired state that did not come from a schedule: every enabled program of that
    /// shadow that sets one of `attributes` holds off them, per its hold policy. Returns the ids
    /// of the schedules now holding.
    public mutating func manualChange(thing: String, shadow: String?, attributes: Set<String>, at now: Int64)
        -> [String]
    {
        var holding: [String] = []
        for id in (byThing[thing] ?? []).sorted() {
            guard var schedule = schedules[id], schedule.enabled, schedule.shadow == shadow,
                case .program(let program) = schedule.trigger
            else { continue }
            let taken = attributes.intersection(program.attributes)
            guard !taken.isEmpty else { continue }
            let all = taken.union(schedule.hold?.attributes ?? [])
            let until: Int64?
            switch schedule.holdPolicy {
            case .indefinite: until = nil
            case .duration(let seconds): until = now + seconds
            case .nextTransition:
                // The next transition that sets one of the held attributes ends the hold.
                var cursor = now
                var found: Int64?
                for _ in 0..<(program.entries.count * 8) {
                    guard let next = program.nextTransition(after: cursor, in: zone(of: schedule)) else { break }
                    if !all.isDisjoint(with: next.patch.keys) {
                        found = next.firing.instant
                        break
                    }
                    cursor = next.firing.instant
                }
                until = found
            }
            schedule.hold = Schedule.Hold(attributes: all.sorted(), since: schedule.hold?.since ?? now, until: until)
            store(schedule)
            holding.append(id)
        }
        return holding
    }

    /// The hub's zone changed: schedules that follow it get new next times.
    public mutating func setDefaultZone(_ zone: TimeZoneRules) {
        defaultZone = zone
        recomputeAll()
    }

    /// Computes every wake-up again (after a clock jump or a zone change).
    public mutating func recomputeAll() {
        queue = Heap()
        wakes = [:]
        for schedule in schedules.values { scheduleWake(schedule) }
    }

    /// The schedules changed since the last call, for the caller to store.
    public mutating func takeChanged() -> [Schedule] {
        defer { changed = [] }
        return changed.sorted().compactMap { schedules[$0] }
    }

    // MARK: - Time passing

    /// Everything due at `now`, in wake-up order.
    public mutating func due(at now: Int64) -> [Run] {
        var runs: [Run] = []
        while let top = queue.min, top.instant <= now {
            queue.removeMin()
            guard wakes[top.id] == top.instant, var schedule = schedules[top.id] else { continue }
            wakes[top.id] = nil
            let zone = zone(of: schedule)
            var run: Run?

            // A hold that has run out gives its attributes back to the program.
            var resumed: JSONObject?
            if let hold = schedule.hold, let until = hold.until, until <= now {
                schedule.hold = nil
                if case .program(let program) = schedule.trigger, let inForce = program.inForce(at: now, in: zone) {
                    resumed = inForce.state.filter { hold.attributes.contains($0.key) }
                }
            }

            var passed: [Schedule.Occurrence] = []
            var cursor = schedule.handledThrough
            while passed.count < Self.missedCountLimit,
                let next = schedule.nextOccurrence(after: cursor, in: zone), next.firing.instant <= now
            {
                passed.append(next)
                cursor = next.firing.instant
            }
            if let last = passed.last {
                schedule.handledThrough = max(schedule.handledThrough, now)
                if now - last.firing.instant <= graceSeconds {
                    run = Run(
                        scheduleID: schedule.id, kind: .fired, occurrence: last, missed: passed.count - 1,
                        patch: last.patch, command: last.command)
                } else if schedule.catchUp == .latest {
                    var caughtUp = Run(
                        scheduleID: schedule.id, kind: .caughtUp, occurrence: last, missed: passed.count,
                        patch: last.patch, command: last.command)
                    if case .program(let program) = schedule.trigger {
                        caughtUp.patch = program.inForce(at: now, in: zone)?.state ?? last.patch
                    }
                    run = caughtUp
                } else {
                    run = Run(scheduleID: schedule.id, kind: .missed, occurrence: last, missed: passed.count)
                }
            }
            if let resumed, !resumed.isEmpty {
                if run == nil || run?.kind == .missed {
                    run = Run(
                        scheduleID: schedule.id, kind: .resumed, occurrence: run?.occurrence, missed: run?.missed ?? 0)
                }
                let firing = run?.patch ?? [:]
                run?.patch = resumed.merging(firing) { _, fromFiring in fromFiring }
            }
            if let hold = schedule.hold, let patch = run?.patch {
                let kept = patch.filter { !hold.attributes.contains($0.key) }
                run?.heldAttributes = patch.keys.filter { hold.attributes.contains($0) }
                run?.patch = kept.isEmpty ? nil : kept
                if kept.isEmpty && run?.kind == .fired { run?.kind = .held }
            }
            store(schedule)
            if let run { runs.append(run) }
        }
        return runs
    }

    // MARK: - Internals

    private mutating func insert(_ schedule: Schedule, zone: TimeZoneRules?) {
        if let old = schedules[schedule.id] { byThing[old.thing]?.remove(old.id) }
        if let name = schedule.timeZone, let zone { zones[name] = zone }
        byThing[schedule.thing, default: []].insert(schedule.id)
        schedules[schedule.id] = schedule
        wakes[schedule.id] = nil
        scheduleWake(schedule)
    }

    private mutating func store(_ schedule: Schedule) {
        schedules[schedule.id] = schedule
        changed.insert(schedule.id)
        wakes[schedule.id] = nil
        scheduleWake(schedule)
    }

    private mutating func scheduleWake(_ schedule: Schedule) {
        guard schedule.enabled else { return }
        var wake = schedule.nextOccurrence(after: schedule.handledThrough, in: zone(of: schedule))?.firing.instant
        if let until = schedule.hold?.until { wake = min(wake ?? until, until) }
        guard let wake else { return }
        wakes[schedule.id] = wake
        queue.insert(Wake(instant: wake, id: schedule.id))
    }

    private func applyInForce(_ schedule: Schedule, kind: Run.Kind, now: Int64, force: Bool = false) -> Run? {
        guard schedule.enabled, force || schedule.catchUp == .latest, case .program(let program) = schedule.trigger,
            let inForce = program.inForce(at: now, in: zone(of: schedule))
        else { return nil }
        let held = schedule.hold?.attributes ?? []
        let patch = inForce.state.filter { !held.contains($0.key) }
        return Run(
            scheduleID: schedule.id, kind: kind, patch: patch.isEmpty ? nil : patch,
            heldAttributes: inForce.state.keys.filter { held.contains($0) })
    }
}

import HubCore
import HubStore
import Logging
import Metrics
import ServiceLifecycle

/// Schedules at work (docs/schedules.md): the planner decides, this actor acts. A firing goes
/// the normal ways — a desired update whose clientToken is `schedule:ID`, or a ledger command
/// whose requester is the schedule — and every run, missed and failed ones too, is stored and
/// published on the event stream.
actor ScheduleService {
    let store: HubStore
    let shadows: ShadowService
    let commands: CommandService
    let events: EventBus
    let clock: any HubClock
    let zones: TimeZoneDatabase
    /// `hub.time_zone`; nil follows the system's zone.
    let configuredZone: String?
    let logger: Logger
    private var planner: SchedulePlanner

    init(
        store: HubStore, shadows: ShadowService, commands: CommandService, events: EventBus, clock: any HubClock,
        zones: TimeZoneDatabase, configuredZone: String?, logger: Logger
    ) throws {
        self.store = store
        self.shadows = shadows
        self.commands = commands
        self.events = events
        self.clock = clock
        self.zones = zones
        self.configuredZone = configuredZone
        self.logger = logger
        let name = configuredZone ?? TimeZoneDatabase.systemZoneName()
        let zone: TimeZoneRules
        do {
            zone = try zones.zone(name)
        } catch  where configuredZone == nil {
            logger.warning(
                "the system's time zone cannot be read; schedules without a zone use UTC",
                metadata: ["error": "\(error)"])
            zone = .utc
        } catch {
            throw ConfigurationError(message: "hub.time_zone: \(error.description)")
        }
        planner = SchedulePlanner(defaultZone: zone)
    }

    /// Loads the stored schedules; the first tick then deals with what was missed while down.
    func load() async throws {
        for (id, document) in try await store.scheduleDocuments() {
            do {
                let schedule = try Schedule(stored: try JSONParser().parse(document))
                planner.load(schedule, zone: try schedule.timeZone.map { name throws in try zones.zone(name) })
            } catch {
                logger.error(
                    "a stored schedule cannot be read; it is kept in the database but not run",
                    metadata: ["schedule.id": "\(id)", "error": "\(error)"])
            }
        }
        logger.info(
            "schedules loaded", metadata: ["schedules": "\(planner.count)", "time_zone": "\(planner.defaultZone.name)"])
    }

    // MARK: - Time passing

    /// Runs what is due now and stores what changed.
    func tick() async {
        let now = clock.epochSeconds()
        guard let wake = planner.nextWake, wake <= now else { return }
        for run in planner.due(at: now) { await execute(run, at: now) }
        persistChanges(at: now)
    }

    /// The wall clock moved other than by the passing of time: every next time is computed again.
    func clockJumped(by seconds: Int64) async {
        logger.warning(
            "the wall clock jumped; next firing times recomputed", metadata: ["jump_seconds": "\(seconds)"])
        events.publish(["type": "clock.jumped", "seconds": .integer(seconds), "time": .integer(clock.epochSeconds())])
        planner.recomputeAll()
        await tick()
    }

    /// Follows a change of the system's zone (unless `hub.time_zone` fixes it).
    func checkSystemZone() async {
        guard configuredZone == nil else { return }
        let name = TimeZoneDatabase.systemZoneName()
        guard name != planner.defaultZone.name, let zone = try? zones.zone(name) else { return }
        logger.notice(
            "the system's time zone changed; schedules without a zone follow it",
            metadata: ["from": "\(planner.defaultZone.name)", "to": "\(name)"])
        planner.setDefaultZone(zone)
        await tick()
    }

    /// A desired change from anyone but a schedule may start holds.
    func observe(_ change: ShadowFanOut.ManualDesiredChange) async {
        let thing = change.id.thingName
        let now = clock.epochSeconds()
        let holding = planner.manualChange(
            thing: thing, shadow: change.id.shadowName, attributes: change.attributes, at: now)
        for id in holding {
            guard let schedule = planner.schedules[id], let hold = schedule.hold else { continue }
            let zone = planner.zone(of: schedule)
            logger.info(
                "a manual change holds a program",
                metadata: ["schedule.id": "\(id)", "attributes": "\(hold.attributes)"])
            events.publish([
                "type": "schedule.hold", "schedule": .string(id), "thing": .string(thing),
                "attributes": .array(hold.attributes.map(JSONValue.string)),
                "until": hold.until.map { .string(LocalTimeText.iso($0, in: zone)) } ?? .null,
                "time": .integer(now),
            ])
        }
        persistChanges(at: now)
    }

    private func persistChanges(at now: Int64) {
        for schedule in planner.takeChanged() { _ = store.enqueueSaveSchedule(schedule, at: now) }
    }

    /// Applies a run through the normal paths and records it.
    private func execute(_ run: SchedulePlanner.Run, at now: Int64) async {
        guard let schedule = planner.schedules[run.scheduleID] else { return }
        let zone = planner.zone(of: schedule)
        var record: JSONObject = [
            "schedule": .string(schedule.id), "kind": .string(run.kind.rawValue), "time": .integer(now),
        ]
        if let occurrence = run.occurrence { record.merge(Self.describe(occurrence.firing, in: zone)) { $1 } }
        if run.missed > 0 { record["missed"] = .integer(Int64(run.missed)) }
        if !run.heldAttributes.isEmpty { record["held"] = .array(run.heldAttributes.map(JSONValue.string)) }
        var failed = false
        if let patch = run.patch {
            let payload: JSONValue = [
                "state": ["desired": .object(patch)], "clientToken": .string(schedule.clientToken),
            ]
            do throws(ShadowError) {
                let id = try ShadowID(
                    thingName: schedule.thing, shadowName: schedule.shadow, limits: shadows.engine.limits)
                switch await shadows.perform(
                    .init(.update, id, payload: payload.compactBytes), origin: .schedule(schedule.id))
                {
                case .success(let outcome):
                    record["applied"] = .object(patch)
                    record["version"] = outcome.accepted["version"] ?? .null
                case .failure(let error):
                    throw error
                }
            } catch {
                failed = true
                record["error"] = .string("the desired update was rejected: \(error.message)")
            }
        }
        if let command = run.command {
            let key = "\(schedule.clientToken):\(run.occurrence?.firing.instant ?? now)"
            let result = await commands.create(
                .init(
                    thing: schedule.thing, name: command.name, parameters: command.parameters, ttlSeconds: nil,
                    timeoutSeconds: nil, idempotencyKey: key, requester: ["schedule": .string(schedule.id)]))
            switch result {
            case .success(let (created, _)):
                record["command"] = .string(created.id)
                record["commandState"] = .string(created.state.rawValue)
            case .failure(let error):
                failed = true
                record["error"] = .string("the command was refused: \(error.message)")
            }
        }
        record["outcome"] = .string(failed ? "failed" : Self.outcome(of: run))
        Counter(label: "homehub_schedule_runs_total", dimensions: [("outcome", failed ? "failed" : run.kind.rawValue)])
            .increment()
        _ = store.enqueueScheduleRun(
            schedule.id, time: clock.epochMilliseconds(), kind: run.kind.rawValue, document: .object(record))
        var event = record
        event["type"] = .string(failed ? "schedule.failed" : "schedule.\(run.kind.rawValue)")
        event["thing"] = .string(schedule.thing)
        events.publish(.object(event))
        if failed || run.kind == .missed {
            logger.warning(
                failed ? "a schedule's run failed" : "a schedule missed runs while the hub was down",
                metadata: ["schedule.id": "\(schedule.id)", "run": "\(JSONValue.object(record).compactText)"])
        } else {
            logger.info("schedule run", metadata: ["schedule.id": "\(schedule.id)", "kind": "\(run.kind.rawValue)"])
        }
    }

    static func outcome(of run: SchedulePlanner.Run) -> String {
        switch run.kind {
        case .missed: return "missed"
        case .held: return "held"
        default: return run.command != nil ? "requested" : run.patch != nil ? "applied" : "nothing-to-apply"
        }
    }

    /// A firing as the API shows it: local time (with offset), the time the schedule names, UTC,
    /// and how DST bent it.
    static func describe(_ firing: Firing, in zone: TimeZoneRules) -> JSONObject {
        let local = zone.local(firing.instant)
        var object: JSONObject = [
            "at": .string(LocalTimeText.iso(firing.instant, in: zone)),
            "weekday": .string(["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][local.weekday]),
            "utc": .string(LocalTimeText.isoUTC(firing.instant)),
            "scheduled": .string(firing.scheduled.isoLocal),
        ]
        switch firing.adjustment {
        case .none: break
        case .skippedToNextValid:
            object["adjustment"] = .string(firing.adjustment.rawValue)
            object["note"] = .string(
                "\(firing.scheduled.isoLocal.suffix(5)) does not exist that night (the clocks go forward); fires at \(zone.local(firing.instant).isoLocal.suffix(5))"
            )
        case .firstOfRepeated:
            object["adjustment"] = .string(firing.adjustment.rawValue)
            object["note"] = .string(
                "\(firing.scheduled.isoLocal.suffix(5)) happens twice that night (the clocks go back); fires at the first, \(LocalTimeText.offsetText(zone.offset(at: firing.instant)))"
            )
        }
        return object
    }

    // MARK: - The API

    func list() -> JSONValue {
        let now = clock.epochSeconds()
        return [
            "timeZone": .string(planner.defaultZone.name),
            "schedules": .array(
                planner.schedules.values.sorted { $0.id < $1.id }.map { summary($0, now: now) }),
        ]
    }

    private func summary(_ schedule: Schedule, now: Int64) -> JSONValue {
        var object = schedule.json.objectValue ?? [:]
        let zone = planner.zone(of: schedule)
        object["zone"] = .string(zone.name)
        let next = schedule.enabled ? schedule.nextOccurrence(after: max(now, schedule.handledThrough), in: zone) : nil
        object["next"] = next.map { .object(Self.describe($0.firing, in: zone)) } ?? .null
        object["state"] = .string(
            !schedule.enabled ? "disabled" : schedule.hold != nil ? "held" : next == nil ? "done" : "active")
        if let hold = schedule.hold {
            object["held"] = [
                "attributes": .array(hold.attributes.map(JSONValue.string)),
                "since": .string(LocalTimeText.iso(hold.since, in: zone)),
                "until": hold.until.map { .string(LocalTimeText.iso($0, in: zone)) } ?? .null,
            ]
        }
        if case .program(let program) = schedule.trigger, let inForce = program.inForce(at: now, in: zone) {
            object["inForce"] = .object(inForce.state)
        }
        return .object(object)
    }

    func detail(_ id: String) async -> Result<JSONValue, HubError> {
        guard let schedule = planner.schedules[id] else { return .failure(.notFound("no schedule '\(id)'")) }
        var object = summary(schedule, now: clock.epochSeconds()).objectValue ?? [:]
        do {
            var runs: [JSONValue] = []
            for var run in try await store.scheduleRuns(id, limit: 20) {
                // A command's run shows where the command is now (it may have failed since).
                if let commandID = run["command"]?.stringValue, let command = await commands.command(commandID),
                    case .object(var fields) = run
                {
                    fields["commandState"] = .string(command.state.rawValue)
                    run = .object(fields)
                }
                runs.append(run)
            }
            object["runs"] = .array(runs)
        } catch {
            return .failure(HubError(.internal, "cannot read the schedule's runs: \(error)"))
        }
        return .success(.object(object))
    }

    /// Creates (POST: `id` nil) or replaces (PUT) a schedule after checking it against the zone,
    /// the thing's device type and its commands.
    func save(_ request: JSONValue, id: String?) async -> Result<(JSONValue, created: Bool), HubError> {
        let now = clock.epochSeconds()
        var schedule: Schedule
        do {
            schedule = try Schedule(
                request: request, id: id, defaultID: defaultID(for: request["thing"]?.stringValue ?? ""), now: now)
        } catch {
            return .failure(.invalid(error.description))
        }
        // As `hubctl set`: a typed thing's values live in its type's primary shadow.
        if request["shadow"] == nil, let primary = shadows.registry.deviceType(of: schedule.thing)?.primaryShadow {
            schedule.shadow = primary
        }
        let zone: TimeZoneRules?
        do {
            zone = try schedule.timeZone.map { name throws(TimeZoneDatabase.Failure) in try zones.zone(name) }
        } catch {
            return .failure(.invalid(error.description))
        }
        if let problem = await check(schedule) { return .failure(.invalid(problem)) }
        // Decided after the check's suspension, on the planner as it is now.
        if id == nil, planner.schedules[schedule.id] != nil {
            return .failure(
                HubError(
                    .conflict,
                    "schedule '\(schedule.id)' exists; remove it first or replace it with PUT /v1/schedules/\(schedule.id)"
                ))
        }
        let created = planner.schedules[schedule.id] == nil
        let run = planner.add(schedule, zone: zone, now: now)
        do {
            for changed in planner.takeChanged() { try await store.saveSchedule(changed, at: now) }
        } catch {
            planner.remove(schedule.id)
            return .failure(HubError(.unavailable, "cannot store the schedule: \(error)"))
        }
        logger.notice("schedule saved", metadata: ["schedule.id": "\(schedule.id)", "thing": "\(schedule.thing)"])
        if let run { await execute(run, at: now) }
        persistChanges(at: now)
        return .success((summary(planner.schedules[schedule.id] ?? schedule, now: now), created))
    }

    /// What a device type says against the schedule's values and command, if it has a type.
    private func check(_ schedule: Schedule) async -> String? {
        let type = shadows.registry.deviceType(of: schedule.thing)
        var patches: [JSONObject] = []
        switch (schedule.trigger, schedule.action) {
        case (.program(let program), _): patches = program.entries.map(\.patch)
        case (_, .desired(let patch)?): patches = [patch]
        case (_, .command(let name, let parameters)?):
            switch await commands.lookUp(thing: schedule.thing, name: name) {
            case .failure(let error): return error.message
            case .success(let (type, command)):
                return CommandService.invalidParameters(
                    parameters, schema: command, command: name, thing: schedule.thing, type: type.name)
            }
        default: break
        }
        guard let type else { return nil }
        for patch in patches {
            do {
                try type.validateDesired(patch, shadow: schedule.shadow, thing: schedule.thing)
            } catch {
                return "schedule '\(schedule.id)': \(error.message)"
            }
        }
        return nil
    }

    /// The thing's name (made fit for an id), then `-2`, `-3` … until unused.
    private func defaultID(for thing: String) -> String {
        var base = String(
            thing.unicodeScalars.map {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
                    ? Character($0) : "-"
            }.prefix(44))
        if base.isEmpty { base = "schedule" }
        var candidate = base
        var counter = 2
        while planner.schedules[candidate] != nil {
            candidate = "\(base)-\(counter)"
            counter += 1
        }
        return candidate
    }

    func remove(_ id: String) async -> Result<JSONValue, HubError> {
        guard planner.schedules[id] != nil else { return .failure(.notFound("no schedule '\(id)'")) }
        do {
            try await store.deleteSchedule(id)
        } catch {
            return .failure(HubError(.unavailable, "cannot remove the schedule: \(error)"))
        }
        planner.remove(id)
        return .success(["removed": .string(id)])
    }

    func setEnabled(_ id: String, _ enabled: Bool) async -> Result<JSONValue, HubError> {
        guard planner.schedules[id] != nil else { return .failure(.notFound("no schedule '\(id)'")) }
        let now = clock.epochSeconds()
        let run = planner.setEnabled(id, enabled, now: now)
        if let run { await execute(run, at: now) }
        persistChanges(at: now)
        return .success(summary(planner.schedules[id]!, now: now))
    }

    func resume(_ id: String) async -> Result<JSONValue, HubError> {
        guard let schedule = planner.schedules[id] else { return .failure(.notFound("no schedule '\(id)'")) }
        guard schedule.isProgram else {
            return .failure(.invalid("schedule '\(id)' is not a program: only programs are held by manual changes"))
        }
        let now = clock.epochSeconds()
        if let run = planner.resume(id, now: now) { await execute(run, at: now) }
        persistChanges(at: now)
        return .success(summary(planner.schedules[id]!, now: now))
    }

    /// The next `count` firings after `from` (ISO 8601; local to the schedule's zone without an
    /// offset), each in local time with its DST adjustment.
    func next(_ id: String, count: Int, from: String?) -> Result<JSONValue, HubError> {
        guard let schedule = planner.schedules[id] else { return .failure(.notFound("no schedule '\(id)'")) }
        let zone = planner.zone(of: schedule)
        var start = clock.epochSeconds()
        if let from {
            do {
                // The firings at the very instant named are included.
                start = try LocalTimeText.instant(from, in: zone) - 1
            } catch {
                return .failure(.invalid("from: \(error.description)"))
            }
        }
        let firings = schedule.occurrences(after: start, count: count, in: zone).map { occurrence in
            var object = Self.describe(occurrence.firing, in: zone)
            if let patch = occurrence.patch { object["set"] = .object(patch) }
            if let command = occurrence.command {
                object["command"] = .string(command.name)
                object["parameters"] = .object(command.parameters)
            }
            return JSONValue.object(object)
        }
        return .success([
            "schedule": .string(id), "zone": .string(zone.name),
            "from": .string(LocalTimeText.iso(start + 1, in: zone)),
            "firings": .array(firings),
        ])
    }

    var scheduleCount: Int { planner.count }
}

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

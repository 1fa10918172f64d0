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
    var planner: SchedulePlanner

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

    func persistChanges(at now: Int64) {
        for schedule in planner.takeChanged() { _ = store.enqueueSaveSchedule(schedule, at: now) }
    }

    /// Applies a run through the normal paths and records it.
    func execute(_ run: SchedulePlanner.Run, at now: Int64) async {
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
                    .init(.update, id, payload: payload.compactBytes), origin: .schedule(schedule.id),
                    by: schedule.identity)
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
                    timeoutSeconds: nil, idempotencyKey: key, requester: ["schedule": .string(schedule.id)],
                    identity: schedule.identity, path: "schedule"))
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
}

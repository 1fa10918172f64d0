import HubCore
import HubStore
import Logging
import Metrics
import ServiceLifecycle

/// What the control API asks of the schedules: list, detail, save, remove, enable, resume, next.
extension ScheduleService {
    func list() -> JSONValue {
        let now = clock.epochSeconds()
        return [
            "timeZone": .string(planner.defaultZone.name),
            "schedules": .array(
                planner.schedules.values.sorted { $0.id < $1.id }.map { summary($0, now: now) }),
        ]
    }

    func summary(_ schedule: Schedule, now: Int64) -> JSONValue {
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
    /// Creates or replaces a schedule as `identity`, who must hold now what its firings will need:
    /// a firing acts with its creator's rights as they are then (docs/security.md).
    func save(_ request: JSONValue, id: String?, by identity: Identity) async -> Result<
        (JSONValue, created: Bool), HubError
    > {
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
        schedule.createdBy = identity
        if let problem = await check(schedule) { return .failure(.invalid(problem)) }
        // Decided after the check's suspension, on the rights and device type as they are now.
        if let refusal = refusal(schedule, by: identity) { return .failure(HubError(.forbidden, refusal)) }
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

    /// Why `identity` may not make this schedule: what its firings need (a sensitive shadow or
    /// command needs the sensitive role), checked now as it will be at each firing.
    func refusal(_ schedule: Schedule, by identity: Identity) -> String? {
        let type = shadows.registry.deviceType(of: schedule.thing)
        let permission: Permission
        let action: String
        switch schedule.action {
        case .command(let name, _)?:
            permission = type?.permission(toRun: name) ?? .write
            action =
                "create a schedule that runs the \(permission == .sensitive ? "sensitive " : "")command '\(name)' on '\(schedule.thing)'"
        default:
            let id = ShadowID(unchecked: schedule.thing, shadowName: schedule.shadow)
            let (needed, change) = AccessGate.shadowChange(id, type: type)
            permission = needed
            action = "create a schedule that would \(change)"
        }
        return shadows.access.refusal(identity, needs: permission, on: schedule.thing, action: action)
    }

    /// What a device type says against the schedule's values and command, if it has a type.
    func check(_ schedule: Schedule) async -> String? {
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
    func defaultID(for thing: String) -> String {
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

import HubAPI
import HubCore
import HubCrypto
import HubPlugins
import HubStore
import Logging
import Metrics

/// The control API's commands, schedules, plugins, device certificates and audit log.
extension ControlBackend {
    func createCommand(thing: String, request: JSONValue, identity: Identity) async -> Result<
        (JSONValue, created: Bool), HubError
    > {
        guard let name = request["command"]?.stringValue else {
            return .failure(.invalid("'command' is required: {\"command\": \"unlock\", \"parameters\": {…}}"))
        }
        var parameters = JSONObject()
        switch request["parameters"] {
        case nil, .null?: break
        case .object(let value)?: parameters = value
        default: return .failure(.invalid("'parameters' must be a JSON object"))
        }
        func seconds(_ key: String) -> Result<Double?, HubError> {
            switch request[key] {
            case nil, .null?: return .success(nil)
            case .number(let number)? where number.doubleValue > 0: return .success(number.doubleValue)
            default: return .failure(.invalid("'\(key)' must be a number of seconds above 0"))
            }
        }
        let ttl: Double?
        let timeout: Double?
        switch (seconds("ttlSeconds"), seconds("timeoutSeconds")) {
        case (.success(let a), .success(let b)): (ttl, timeout) = (a, b)
        case (.failure(let error), _), (_, .failure(let error)): return .failure(error)
        }
        var requester: JSONObject = [:]
        if case .user(let caller) = identity {
            requester = [
                "uid": .integer(Int64(caller.uid)), "user": .string(caller.userName),
                "pid": .integer(Int64(caller.pid)),
            ]
        }
        requester["identity"] = .string(identity.description)
        let key = request["idempotencyKey"]?.stringValue
        return await commands.create(
            .init(
                thing: thing, name: name, parameters: parameters, ttlSeconds: ttl, timeoutSeconds: timeout,
                idempotencyKey: key, requester: requester, identity: identity, path: "api")
        ).map { ($0.0.json, $0.created) }
    }

    func commands(thing: String?, state: String?, limit: Int) async -> Result<JSONValue, HubError> {
        if let state, CommandState(rawValue: state) == nil {
            return .failure(
                .invalid("state must be one of \(CommandState.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        do {
            return .success([
                "commands": .array(try await store.commands(thing: thing, state: state, limit: limit).map(\.json))
            ])
        } catch {
            return .failure(HubError(.internal, "cannot read the command ledger: \(error)"))
        }
    }

    func command(_ id: String) async -> Result<JSONValue, HubError> {
        guard let command = await commands.command(id) else { return .failure(.notFound("no command \(id)")) }
        return .success(command.json)
    }

    func cancelCommand(_ id: String, caller: Caller?) async -> Result<JSONValue, HubError> {
        await commands.cancel(id, by: caller.map { "\($0.userName) (uid \($0.uid))" } ?? "unknown").map(\.json)
    }

    func plugins() async -> JSONValue { await plugins.statusJSON() }

    /// A new key and client certificate for a registered thing, from the hub's CA: the broker's
    /// TLS listener knows the device by it and confines it to the thing's topics.
    func caCertificate() -> String? { authority?.certificatePEM }

    func issueCertificate(thing: String) async -> Result<JSONValue, HubError> {
        guard let authority else {
            return .failure(
                HubError(
                    .conflict,
                    "the hub's CA issues certificates for its embedded broker only (mqtt.mode = \"embedded\")")
            )
        }
        guard shadows.registry.isRegistered(thing) else {
            return .failure(.notFound("thing '\(thing)' is not registered (hubctl things add \(thing))"))
        }
        do {
            let identity = try authority.issue(commonName: thing)
            logger.notice("device certificate issued", metadata: ["device.id": "\(thing)"])
            return .success([
                "thing": .string(thing), "key": .string(identity.key), "certificate": .string(identity.certificate),
                "ca": .string(authority.certificatePEM), "tlsPort": .integer(Int64(tlsPort)),
            ])
        } catch {
            return .failure(HubError(.internal, error.description))
        }
    }

    func schedules() async -> JSONValue { await schedules.list() }
    func schedule(_ id: String) async -> Result<JSONValue, HubError> { await schedules.detail(id) }
    func saveSchedule(id: String?, request: JSONValue, identity: Identity) async -> Result<
        (JSONValue, created: Bool), HubError
    > {
        await schedules.save(request, id: id, by: identity)
    }
    func removeSchedule(_ id: String) async -> Result<JSONValue, HubError> { await schedules.remove(id) }
    func setScheduleEnabled(_ id: String, _ enabled: Bool) async -> Result<JSONValue, HubError> {
        await schedules.setEnabled(id, enabled)
    }
    func resumeSchedule(_ id: String) async -> Result<JSONValue, HubError> { await schedules.resume(id) }
    func nextFirings(_ id: String, count: Int, from: String?) async -> Result<JSONValue, HubError> {
        await schedules.next(id, count: count, from: from)
    }

    func plugin(_ id: String) async -> Result<JSONValue, HubError> {
        guard let plugin = await plugins.pluginJSON(id) else {
            return .failure(.notFound("no plugin '\(id)' is loaded (see hubctl plugins list)"))
        }
        return .success(plugin)
    }

    func restartPlugin(_ id: String) async -> Result<JSONValue, HubError> {
        guard await plugins.restart(id) else {
            return .failure(.notFound("no plugin '\(id)' with a process is loaded (see hubctl plugins list)"))
        }
        return .success(["id": .string(id), "restarting": true])
    }

    func audit(limit: Int, target: String?) async -> Result<JSONValue, HubError> {
        do {
            let entries = try await store.auditEntries(limit: limit, target: target)
            return .success(["entries": .array(entries.map(\.json))])
        } catch {
            return .failure(HubError(.internal, "cannot read the audit log: \(error)"))
        }
    }

    func recordAudit(_ record: AuditRecord) async {
        let entry = AuditEntry(
            time: clock.epochSeconds(), uid: record.caller?.uid, user: record.caller?.userName, pid: record.pid,
            action: record.action, target: record.target, result: record.result, detail: record.detail,
            identity: record.identity.description, path: record.path)
        do {
            try await store.appendAudit(entry)
        } catch {
            logger.error("cannot write the audit log", metadata: ["action": "\(record.action)", "error": "\(error)"])
        }
        if record.result == 403 {
            Counter(label: "homehub_access_denied_total", dimensions: [("path", record.path)]).increment()
        }
        logger.info(
            "\(record.action) → \(record.result)",
            metadata: [
                "audit.identity": "\(record.identity)",
                "audit.user": "\(entry.user ?? "?")", "audit.uid": "\(entry.uid.map(String.init) ?? "?")",
                "audit.target": "\(record.target)",
            ])
    }
}

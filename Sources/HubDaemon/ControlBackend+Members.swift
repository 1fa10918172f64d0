import HubAPI
import HubCore
import HubCrypto
import HubStore

/// Household members (docs/dashboard.md): who signs in to the dashboard, with a role and a
/// scrypt-hashed password. Changes run one at a time, as applications' do (store, then table).
extension ControlBackend {
    func history(thing: String, hours: Int) async -> Result<JSONValue, HubError> {
        let since = clock.epochSeconds() - Int64(hours) * 3600
        do {
            let series = try await store.history(thing: thing, since: since)
            return .success([
                "thing": .string(thing), "since": .integer(since),
                "series": .object(
                    JSONObject(
                        uniqueKeysWithValues: series.sorted { $0.key < $1.key }.map { key, points in
                            (
                                key,
                                .array(points.map { [.integer($0.0), .number(JSONNumber($0.1))] })
                            )
                        })),
            ])
        } catch {
            return .failure(HubError(.internal, "cannot read the history: \(error)"))
        }
    }

    func members() async -> JSONValue {
        ["users": .array(identities.allMembers().map(\.json))]
    }

    func addMember(_ request: JSONValue) async -> Result<JSONValue, HubError> {
        await applicationChanges.run { await addingMember(request) }
    }

    func setMemberPassword(_ name: String, _ request: JSONValue) async -> Result<JSONValue, HubError> {
        await applicationChanges.run { await changingMember(name, request) }
    }

    func removeMember(_ name: String) async -> Result<JSONValue, HubError> {
        await applicationChanges.run {
            do {
                guard try await store.removeMember(name) else {
                    return .failure(.notFound("no household member named '\(name)' (hubctl users list)"))
                }
            } catch {
                return .failure(HubError(.internal, "cannot remove the member: \(error)"))
            }
            identities.removeMember(name)
            sessions.revokeAll(of: name)
            return .success(["name": .string(name), "removed": true])
        }
    }

    /// The password of a request, or a generated one (returned once), or why it is refused.
    func password(in request: JSONValue) -> Result<(String, generated: Bool), HubError> {
        switch request["password"] {
        case nil, .null?:
            return .success((BrokerPassword.generate(), true))
        case .string(let text)?:
            if let weakness = MemberPassword.weakness(text) { return .failure(.invalid(weakness)) }
            return .success((text, false))
        default:
            return .failure(.invalid("'password' must be a string"))
        }
    }

    func addingMember(_ request: JSONValue) async -> Result<JSONValue, HubError> {
        guard let name = request["name"]?.stringValue else {
            return .failure(.invalid("'name' is required: {\"name\": \"anna\", \"role\": \"write\"}"))
        }
        if ApplicationNames.problem(name) != nil {
            return .failure(.invalid("member name '\(name)' must be 1–64 letters, digits, '-' or '_'"))
        }
        guard let roleText = request["role"]?.stringValue, let role = Permission(rawValue: roleText) else {
            return .failure(.invalid("'role' must be read, write or sensitive (got \(request["role"] ?? .null))"))
        }
        let chosen: (String, generated: Bool)
        switch password(in: request) {
        case .success(let value): chosen = value
        case .failure(let error): return .failure(error)
        }
        let now = clock.epochSeconds()
        let member = MemberRecord(
            name: name, role: role, passwordHash: MemberPassword.hash(chosen.0), createdAt: now, changedAt: now)
        do {
            guard try await store.saveMember(member, replacing: false) else {
                return .failure(
                    HubError(
                        .conflict,
                        "member '\(name)' exists; hubctl users passwd \(name) sets a new password, hubctl users remove \(name) removes them"
                    ))
            }
        } catch {
            return .failure(HubError(.internal, "cannot store the member: \(error)"))
        }
        identities.save(member)
        var body = member.json.objectValue ?? [:]
        if chosen.generated { body["password"] = .string(chosen.0) }
        return .success(.object(body))
    }

    func changingMember(_ name: String, _ request: JSONValue) async -> Result<JSONValue, HubError> {
        guard var member = identities.member(name) else {
            return .failure(.notFound("no household member named '\(name)' (hubctl users list)"))
        }
        let chosen: (String, generated: Bool)
        switch password(in: request) {
        case .success(let value): chosen = value
        case .failure(let error): return .failure(error)
        }
        if let roleText = request["role"]?.stringValue {
            guard let role = Permission(rawValue: roleText) else {
                return .failure(.invalid("'role' must be read, write or sensitive (got '\(roleText)')"))
            }
            member.role = role
        }
        member.passwordHash = MemberPassword.hash(chosen.0)
        member.changedAt = clock.epochSeconds()
        do {
            guard try await store.saveMember(member, replacing: true) else {
                return .failure(.notFound("no household member named '\(name)'"))
            }
        } catch {
            return .failure(HubError(.internal, "cannot store the member: \(error)"))
        }
        identities.save(member)
        sessions.revokeAll(of: name)
        var body = member.json.objectValue ?? [:]
        if chosen.generated { body["password"] = .string(chosen.0) }
        return .success(.object(body))
    }
}

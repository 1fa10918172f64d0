import HubAPI
import HubCore
import HubCrypto
import HubStore

/// Application identities: a name, a role, an MQTT password shown once and kept as a salted
/// hash, and on request a client certificate (CN `app.NAME`) for the TLS listener and an access
/// key pair for HTTPS. Changes run one at a time (``OneAtATime``): each writes the store, then the
/// table the access rules read, then the broker's files, and no other change comes in between.
extension ControlBackend {
    func applications() async -> JSONValue {
        ["applications": .array(identities.allApplications().map(\.json))]
    }

    func application(_ name: String) async -> Result<JSONValue, HubError> {
        guard let application = identities.application(name) else { return .failure(notFound(name)) }
        return .success(application.json)
    }

    func addApplication(_ request: JSONValue) async -> Result<JSONValue, HubError> {
        await applicationChanges.run { await addingApplication(request) }
    }

    func rotateApplication(_ name: String) async -> Result<JSONValue, HubError> {
        await applicationChanges.run { await rotatingApplication(name) }
    }

    func removeApplication(_ name: String) async -> Result<JSONValue, HubError> {
        await applicationChanges.run { await removingApplication(name) }
    }

    func addingApplication(_ request: JSONValue) async -> Result<JSONValue, HubError> {
        guard let name = request["name"]?.stringValue else {
            return .failure(.invalid("'name' is required: {\"name\": \"kitchen-tablet\", \"role\": \"write\"}"))
        }
        if let problem = ApplicationNames.problem(name) { return .failure(.invalid(problem)) }
        guard let roleText = request["role"]?.stringValue, let role = Permission(rawValue: roleText) else {
            return .failure(.invalid("'role' must be read, write or sensitive (got \(request["role"] ?? .null))"))
        }
        let issueCertificate = request["issueCert"]?.boolValue ?? false
        let keys = request["accessKey"]?.boolValue == true ? AccessKeys.generate() : nil
        if issueCertificate, authority == nil {
            return .failure(
                HubError(
                    .conflict,
                    "the hub's CA issues certificates for its embedded broker only (mqtt.mode = \"embedded\")"))
        }
        let password = BrokerPassword.generate()
        let now = clock.epochSeconds()
        let record = ApplicationRecord(
            name: name, role: role, passwordHash: BrokerPassword.hash(password), createdAt: now, rotatedAt: now,
            accessKeyID: keys?.accessKeyID, secretAccessKey: keys?.secretAccessKey)
        do {
            guard try await store.saveApplication(record, replacing: false) else {
                return .failure(
                    HubError(
                        .conflict,
                        "application '\(name)' exists; hubctl apps rotate \(name) gives it new credentials, hubctl apps remove \(name) removes it"
                    ))
            }
        } catch {
            return .failure(HubError(.unavailable, "cannot store the application: \(error)"))
        }
        identities.save(record)
        brokerAccess?.changed()
        logger.notice("application added", metadata: ["application": "\(name)", "role": "\(role.rawValue)"])
        return credentials(record, password: password, issueCertificate: issueCertificate)
    }

    func rotatingApplication(_ name: String) async -> Result<JSONValue, HubError> {
        guard var record = identities.application(name) else { return .failure(notFound(name)) }
        let password = BrokerPassword.generate()
        record.passwordHash = BrokerPassword.hash(password)
        record.rotatedAt = clock.epochSeconds()
        if record.accessKeyID != nil {
            let keys = AccessKeys.generate()
            record.accessKeyID = keys.accessKeyID
            record.secretAccessKey = keys.secretAccessKey
        }
        do {
            _ = try await store.saveApplication(record, replacing: true)
        } catch {
            return .failure(HubError(.unavailable, "cannot store the application: \(error)"))
        }
        identities.save(record)
        brokerAccess?.changed()
        logger.notice("application credentials rotated", metadata: ["application": "\(name)"])
        return credentials(record, password: password, issueCertificate: false)
    }

    func removingApplication(_ name: String) async -> Result<JSONValue, HubError> {
        do {
            guard try await store.removeApplication(name) else { return .failure(notFound(name)) }
        } catch {
            return .failure(HubError(.unavailable, "cannot remove the application: \(error)"))
        }
        identities.remove(name)
        brokerAccess?.changed()
        logger.notice("application removed", metadata: ["application": "\(name)"])
        return .success(["name": .string(name), "removed": true])
    }

    func credentials(_ record: ApplicationRecord, password: String, issueCertificate: Bool) -> Result<
        JSONValue, HubError
    > {
        guard case .object(var body) = record.json else { return .failure(HubError(.internal, "unreachable")) }
        body["mqtt"] = ["username": .string(record.name), "password": .string(password)]
        if let id = record.accessKeyID, let secret = record.secretAccessKey {
            body["aws"] = ["accessKeyId": .string(id), "secretAccessKey": .string(secret)]
        }
        if issueCertificate, let authority {
            do {
                let identity = try authority.issue(commonName: "app.\(record.name)")
                body["certificate"] = [
                    "commonName": .string("app.\(record.name)"), "key": .string(identity.key),
                    "certificate": .string(identity.certificate), "ca": .string(authority.certificatePEM),
                    "tlsPort": .integer(Int64(tlsPort)),
                ]
            } catch {
                return .failure(HubError(.internal, error.description))
            }
        }
        return .success(.object(body))
    }

    func notFound(_ name: String) -> HubError {
        .notFound("no application named '\(name)' (hubctl apps list)")
    }
}

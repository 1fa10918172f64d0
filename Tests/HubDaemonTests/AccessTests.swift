import HubCore
import HubCrypto
import HubStore
import Logging
import Testing

@testable import HubDaemon

/// The access rule inside the services: a refusal stores nothing, sends nothing, and is audited.
@Suite struct AccessTests {
    static let lockType = DeviceType(
        name: "testlock",
        shadows: [("lock", ["lock": AttributeSchema(kind: .enum, values: ["locked", "unlocked"])])],
        commands: ["unlock": CommandSchema(timeoutSeconds: 5, heartbeatSeconds: 1, sensitive: true)],
        sensitiveShadows: ["lock"])

    func makeHub() async throws -> ShadowHarness {
        try await ShadowHarness(
            types: [Self.lockType], things: [.init(name: "door", deviceType: "testlock", createdAt: 0)],
            applications: ["kitchen": .write, "opener": .sensitive])
    }

    @Test func aWriteApplicationOnMQTTChangesNothingAndTheRefusalIsAudited() async throws {
        let hub = try await makeHub()
        defer { hub.store.close() }
        let unlock: JSONValue = ["state": ["desired": ["lock": "unlocked"]], "clientToken": "t1"]
        let refused = await hub.update("door", unlock, shadow: "lock", origin: .mqtt, by: .application("kitchen"))
        guard case .failure(let error) = refused else {
            Issue.record("a write application may not change the lock")
            return
        }
        #expect(error.code == 403 && error.clientToken == "t1")
        #expect(error.message.hasPrefix("application 'kitchen' may not change the sensitive shadow 'lock' of 'door'"))
        #expect(await hub.get("door", shadow: "lock").errorCode == 404, "nothing stored")
        #expect(!hub.publisher.topics().contains { $0.hasSuffix("/delta") }, "nothing sent to the device")
        #expect(hub.publisher.topics().contains("$aws/things/door/shadow/name/lock/update/rejected"))

        let allowed = await hub.update("door", unlock, shadow: "lock", origin: .mqtt, by: .application("opener"))
        #expect(allowed.version == 1)
        // Audit rows are queued behind the answer; a job through the writer waits for them.
        _ = try await hub.store.integrityProbe()
        let rows = try await hub.store.auditEntries(limit: 10, target: "door")
        #expect(rows.map(\.identity) == ["application:kitchen", "application:opener"])
        #expect(rows.map(\.result) == [403, 200])
        #expect(rows.allSatisfy { $0.path == "mqtt" })
    }

    @Test func aDeletionOfASensitiveShadowNeedsTheSensitiveRoleToo() async throws {
        let hub = try await makeHub()
        defer { hub.store.close() }
        _ = await hub.update("door", ["state": ["reported": ["lock": "locked"]]], shadow: "lock")
        let deleted = await hub.shadows.perform(
            .init(.delete, ShadowID(unchecked: "door", shadowName: "lock")), origin: .mqtt, by: .anonymous)
        #expect(deleted.errorCode == 403)
        #expect(await hub.get("door", shadow: "lock").version == 1)
    }

    @Test func aScheduleWhoseCreatorLosesTheRoleIsRefusedWhenItFires() async throws {
        let hub = try await makeHub()
        defer { hub.store.close() }
        let schedules = try ScheduleService(
            store: hub.store, shadows: hub.shadows, commands: hub.commandLedger(), events: hub.events,
            clock: hub.clock, zones: TimeZoneDatabase(), configuredZone: "UTC", logger: Logger(label: "test"))
        try await schedules.load()
        let request: JSONValue = [
            "id": "night", "thing": "door", "at": "2027-01-15T09:30", "desired": ["lock": "unlocked"],
        ]
        let refused = await schedules.save(request, id: nil, by: .application("kitchen"))
        guard case .failure(let error) = refused else {
            Issue.record("a write application may not schedule an unlock")
            return
        }
        #expect(error.kind == .forbidden)
        #expect((try? await schedules.save(request, id: nil, by: .application("opener")).get())?.created == true)

        hub.identities.applications.withLock { $0["opener"] = .write }  // the creator loses the role
        hub.clock.advance(seconds: 90 * 60)
        await schedules.tick()
        #expect(await hub.get("door", shadow: "lock").errorCode == 404, "the firing changed nothing")
        _ = try await hub.store.integrityProbe()
        let row = try await hub.store.auditEntries(limit: 5, target: "door").last
        #expect(row?.identity == "schedule:night (by application:opener)" && row?.path == "schedule")
        #expect(row?.result == 403)
        #expect(row?.detail?.contains("its creator no longer may") == true)
    }

    @Test func passwordHashesAreMosquittosOwnForm() {
        let hash = BrokerPassword.hash("s3cret")
        #expect(hash.hasPrefix("$7$101$"))
        #expect(BrokerPassword.verify("s3cret", against: hash))
        #expect(!BrokerPassword.verify("s3cret!", against: hash))
        // Made by mosquitto_passwd 2.0.11 for the password "hubpw".
        let fromMosquitto =
            "$7$101$f+vnj0DWGkU13k34$M7hhlAlRwgDfTlRZT9Ce9uEe9BD3YCQVmjYmTW8lgbtzU+1KzaiJcIDeE1W8uN2Q1VB8MZYU0QPn3fzwD9WbQg=="
        #expect(BrokerPassword.verify("hubpw", against: fromMosquitto))
        #expect(BrokerPassword.generate() != BrokerPassword.generate())
    }
}

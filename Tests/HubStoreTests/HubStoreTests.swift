import Foundation
import HubCore
import HubStore
import Testing

struct HubStoreTests {
    let directory = TemporaryDirectory()

    static func record(version: Int64, value: Int64) -> ShadowRecord {
        ShadowRecord(
            version: version, reported: ["value": .integer(value)],
            reportedMetadata: ["value": ["timestamp": .integer(value)]])
    }

    @Test func writerRunsWithSynchronousFullAndWAL() throws {
        let store = try HubStore(path: directory.file("hub.db"), now: 1)
        defer { store.close() }
        #expect(try store.writerSynchronousMode() == 2)
        let journal = try String(contentsOfFile: directory.file("hub.db"), encoding: .isoLatin1)
        #expect(journal.hasPrefix("SQLite format 3"))
        #expect(FileManager.default.fileExists(atPath: directory.file("hub.db-wal")))
    }

    @Test func savedShadowReadsBackAfterReopen() async throws {
        let id = try ShadowID(thingName: "lamp", shadowName: "state")
        do {
            let store = try HubStore(path: directory.file("hub.db"), now: 1)
            try await store.saveShadow(id, Self.record(version: 1, value: 7), replacing: nil, at: 1)
            try await store.saveShadow(id, Self.record(version: 2, value: 8), replacing: 1, at: 2)
            store.close()
        }
        let store = try HubStore(path: directory.file("hub.db"), now: 3)
        defer { store.close() }
        #expect(try await store.shadow(id) == Self.record(version: 2, value: 8))
        #expect(try await store.namedShadows(of: "lamp") == ["state"])
        #expect(try await store.integrityCheck() == "ok")
    }

    @Test func aBridgesTypesAndGoneThingsSurviveAReopen() async throws {
        let definition: JSONValue = ["shadows": [["name": "lock", "sensitive": true, "attributes": [:]]]]
        do {
            let store = try HubStore(path: directory.file("hub.db"), now: 1)
            try await store.saveDeclaredType(
                DeclaredTypeRecord(
                    name: "z2m.yale", plugin: "homehub.zigbee2mqtt", definition: definition, declaredAt: 5))
            try await store.registerThing(ThingRegistration(name: "front-lock", deviceType: "z2m.yale", createdAt: 5))
            #expect(try await store.markThingGone("front-lock", at: 9))
            #expect(try await store.markThingGone("front-lock", at: 10) == false)  // once
            store.close()
        }
        let store = try HubStore(path: directory.file("hub.db"), now: 20)
        defer { store.close() }
        #expect(
            try await store.declaredTypes() == [
                DeclaredTypeRecord(
                    name: "z2m.yale", plugin: "homehub.zigbee2mqtt", definition: definition, declaredAt: 5)
            ])
        #expect(try await store.things().first?.goneAt == 9)
        // The bridge has it again: registered anew, no longer gone, its creation time kept.
        try await store.registerThing(ThingRegistration(name: "front-lock", deviceType: "z2m.yale", createdAt: 30))
        let thing = try #require(try await store.things().first)
        #expect(thing.goneAt == nil && thing.createdAt == 5)
    }

    @Test func staleVersionIsRefusedAndChangesNothing() async throws {
        let store = try HubStore(path: directory.file("hub.db"), now: 1)
        defer { store.close() }
        let id = try ShadowID(thingName: "lamp")
        try await store.saveShadow(id, Self.record(version: 1, value: 1), replacing: nil, at: 1)
        await #expect(throws: HubStore.StaleShadowError.self) {
            try await store.saveShadow(id, Self.record(version: 2, value: 2), replacing: 5, at: 2)
        }
        await #expect(throws: HubStore.StaleShadowError.self) {
            try await store.saveShadow(id, Self.record(version: 1, value: 3), replacing: nil, at: 2)
        }
        #expect(try await store.shadow(id) == Self.record(version: 1, value: 1))
    }

    @Test func tombstoneKeepsTheVersion() async throws {
        let store = try HubStore(path: directory.file("hub.db"), now: 1)
        defer { store.close() }
        let id = try ShadowID(thingName: "lamp", shadowName: "gone")
        try await store.saveShadow(id, Self.record(version: 1, value: 1), replacing: nil, at: 1)
        try await store.saveShadow(id, ShadowRecord(exists: false, version: 1), replacing: 1, at: 2)
        #expect(try await store.shadow(id) == ShadowRecord(exists: false, version: 1))
        #expect(try await store.namedShadows(of: "lamp") == [])
    }

    @Test func concurrentWritesAllCommitAndAFailingOneDoesNotSpoilTheBatch() async throws {
        let store = try HubStore(path: directory.file("hub.db"), now: 1)
        defer { store.close() }
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let id = ShadowID(unchecked: "thing-\(index)", shadowName: nil)
                    // Every tenth write claims a version that is not stored: it must fail alone.
                    let expected: Int64? = index % 10 == 0 ? 41 : nil
                    do {
                        try await store.saveShadow(
                            id, Self.record(version: 1, value: Int64(index)), replacing: expected, at: 1)
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 180)
        #expect(try await store.allShadows().count == 180)
    }
}

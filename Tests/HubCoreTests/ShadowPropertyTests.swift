import HubCore
import PropertyBased
import Synchronization
import Testing

/// Invariants of the engine over generated documents.
struct ShadowPropertyTests {
    static let seeds = Gen.int(in: -1000...1000).array(of: 1...24)

    @Test func afterReportedBecomesDesiredThereIsNoDelta() async {
        await propertyCheck(input: Self.seeds) { numbers in
            var builder = JSONBuilder(numbers)
            let engine = ShadowEngine()
            let desired = builder.object(depth: 4)
            let reported = builder.object(depth: 4)
            let record = try! engine.applying([
                ["state": ["reported": .object(reported)]], ["state": ["desired": .object(desired)]],
            ])
            let synced = try! engine.update(record, ["state": ["reported": .object(record?.desired ?? [:])]])
            #expect(synced.delta == nil)
            #expect(synced.record.delta == nil)
        }
    }

    @Test func versionsStrictlyIncreaseAndRejectionsChangeNothing() async {
        // Both branches must be taken over the run, or the property says nothing.
        let outcomes = Mutex((accepted: 0, rejected: 0))
        await propertyCheck(input: Self.seeds) { numbers in
            var builder = JSONBuilder(numbers)
            let engine = ShadowEngine(limits: ShadowLimits(maxDocumentBytes: 300))
            var record: ShadowRecord?
            for step in 0..<12 {
                let section = step % 2 == 0 ? "desired" : "reported"
                let request: JSONValue = ["state": [section: .object(builder.object(depth: 3))]]
                do {
                    let update = try engine.update(record, request, at: Int64(step))
                    #expect(update.record.version == (record?.version ?? 0) + 1)
                    record = update.record
                    outcomes.withLock { $0.accepted += 1 }
                } catch {
                    #expect((error as? ShadowError)?.code == 413)
                    outcomes.withLock { $0.rejected += 1 }
                }
            }
        }
        let (accepted, rejected) = outcomes.withLock { $0 }
        #expect(accepted > 0 && rejected > 0, "accepted \(accepted), rejected \(rejected)")
    }

    @Test func noStoredDocumentExceedsTheLimit() async {
        let stored = Mutex(0)
        await propertyCheck(input: Self.seeds, Gen.int(in: 20...400)) { numbers, limit in
            var builder = JSONBuilder(numbers)
            let engine = ShadowEngine(limits: ShadowLimits(maxDocumentBytes: limit))
            var record: ShadowRecord?
            for step in 0..<10 {
                let section = step % 3 == 0 ? "reported" : "desired"
                if let update = try? engine.update(record, ["state": [section: .object(builder.object(depth: 4))]]) {
                    record = update.record
                    stored.withLock { $0 += 1 }
                }
                #expect((record?.stateByteCount ?? 0) <= limit)
            }
        }
        #expect(stored.withLock { $0 } > 0, "no update was ever stored: the limit was never tested")
    }

    @Test func mergeThenDeleteByNullRestoresTheTouchedKeys() async {
        await propertyCheck(input: Self.seeds) { numbers in
            var builder = JSONBuilder(numbers)
            let engine = ShadowEngine()
            let base = builder.object(depth: 3).filter { !JSONBuilder.keys.prefix(3).contains($0.key) }
            let before = try! engine.applying([["state": ["desired": .object(base)]]])
            // Add keys the base does not have, then delete them with nulls.
            var patch = JSONObject()
            for key in JSONBuilder.keys.prefix(3) { patch[key] = builder.value(depth: 3) }
            let merged = try! engine.update(before, ["state": ["desired": .object(patch)]]).record
            let deletion = JSONObject(uniqueKeysWithValues: patch.keys.map { ($0, JSONValue.null) })
            let restored = try! engine.update(merged, ["state": ["desired": .object(deletion)]]).record
            #expect(restored.desired == before?.desired)
            #expect(restored.desiredMetadata == before?.desiredMetadata)
        }
    }
}

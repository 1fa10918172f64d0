import HubCore

/// Reported numbers over time (docs/dashboard.md): one row per sample.
public struct HistorySample: Sendable, Equatable {
    public var thing: String
    /// `SHADOW/ATTRIBUTE`.
    public var attribute: String
    public var time: Int64
    public var value: Double

    public init(thing: String, attribute: String, time: Int64, value: Double) {
        self.thing = thing
        self.attribute = attribute
        self.time = time
        self.value = value
    }
}

extension HubStore {
    /// Queues samples (in the group commit; nothing waits for them).
    public func enqueueHistory(_ samples: [HistorySample]) {
        guard !samples.isEmpty else { return }
        writer.enqueue(
            { database in
                let insert = try database.prepare(
                    "INSERT INTO history (thing, attribute, time, value) VALUES (?, ?, ?, ?)")
                for sample in samples {
                    try insert.run([
                        .text(sample.thing), .text(sample.attribute), .integer(sample.time), .real(sample.value),
                    ])
                }
            }, completion: { _ in })
    }

    /// Drops samples older than `before` (queued).
    public func enqueueHistoryPrune(before: Int64) {
        writer.enqueue(
            { database in try database.prepare("DELETE FROM history WHERE time < ?").run([.integer(before)]) },
            completion: { _ in })
    }

    /// A thing's samples since `since`, by attribute, oldest first (at most `limit` per attribute).
    public func history(thing: String, since: Int64, limit: Int = 20_000) async throws -> [String: [(Int64, Double)]] {
        try await read { database in
            let statement = try database.prepare(
                "SELECT attribute, time, value FROM history WHERE thing = ? AND time >= ? ORDER BY time LIMIT ?")
            try statement.bind([.text(thing), .integer(since), .integer(Int64(limit))])
            var result: [String: [(Int64, Double)]] = [:]
            while try statement.step() {
                result[statement.string(at: 0) ?? "", default: []].append(
                    (statement.int64(at: 1), statement.double(at: 2)))
            }
            return result
        }
    }
}

import HubCore

/// Shadow requests in sequence on one shadow: the input is split at NUL bytes into up to eight
/// payloads; the first byte of each picks update (most), get or delete.
enum FuzzShadow {
    static let engine = ShadowEngine(limits: .aws)
    static let id = ShadowID(unchecked: "fuzz", shadowName: "fuzzing")

    static func run(_ bytes: [UInt8]) {
        var record: ShadowRecord?
        var now: Int64 = 1_800_000_000
        for part in bytes.split(separator: 0, maxSplits: 7, omittingEmptySubsequences: false) {
            now += 1
            let payload = Array(part.dropFirst())
            switch part.first ?? 0 {
            case 0x01:
                // get: answers the stored state, never changes it.
                if let answer = try? engine.get(record, id: id, payload: payload, at: now) {
                    JSONProperties.roundTrips(answer, "get/accepted")
                }
            case 0x02:
                if let deletion = try? engine.delete(record, id: id, payload: payload, at: now) {
                    JSONProperties.roundTrips(deletion.accepted, "delete/accepted")
                    FuzzProperty.check(!deletion.record.exists, "a deleted shadow still exists")
                    record = deletion.record
                }
            default:
                record = update(record, payload: Array(part), at: now)
            }
        }
    }

    /// A request as it arrives from a device: the topic decides the shadow and the operation.
    /// A request topic that parses names valid shadows only, and its answers go to topics
    /// without MQTT wildcards or empty levels.
    static func mqtt(_ bytes: [UInt8]) {
        let newline = bytes.firstIndex(of: 0x0A) ?? bytes.endIndex
        let topicText = String(decoding: bytes[..<newline], as: UTF8.self)
        let payload = newline < bytes.endIndex ? Array(bytes[(newline + 1)...]) : []
        guard let topic = ShadowTopic(topicText) else { return }
        FuzzProperty.check(
            ShadowTopic("\(topic.prefix)/\(topic.operation.rawValue)") == topic,
            "topic \(topicText) does not round-trip")
        let id: ShadowID
        do {
            id = try topic.shadowID(limits: engine.limits)
        } catch {
            FuzzProperty.check(error.code == 400, "a bad topic name answered \(error.code)")
            return
        }
        for answer in [topic.acceptedTopic, topic.rejectedTopic, "\(id.topicPrefix)/update/delta"] {
            FuzzProperty.check(
                !answer.contains("+") && !answer.contains("#") && !answer.contains("//") && !answer.contains("\0"),
                "a valid shadow name makes the answer topic '\(answer)'")
        }
        FuzzProperty.check(
            id.topicPrefix == topic.prefix, "shadow \(id) answers on \(id.topicPrefix), asked on \(topic.prefix)")
        switch topic.operation {
        case .update: _ = update(nil, payload: payload, at: 1_800_000_000)
        case .get:
            if let answer = try? engine.get(nil, id: id, payload: payload, at: 1_800_000_000) {
                JSONProperties.roundTrips(answer, "get/accepted")
            }
        case .delete: _ = try? engine.delete(nil, id: id, payload: payload, at: 1_800_000_000)
        }
    }

    static func update(_ record: ShadowRecord?, payload: [UInt8], at now: Int64) -> ShadowRecord? {
        let update: ShadowEngine.Update
        do {
            update = try engine.update(record, payload: payload, at: now)
        } catch {
            // Refused: the error must be one AWS documents, with a message that can be sent.
            FuzzProperty.check((400...500).contains(error.code), "shadow error code \(error.code) outside 400–500")
            JSONProperties.roundTrips(error.document, "error document")
            return record
        }
        let next = update.record
        FuzzProperty.check(next.exists, "an accepted update left no shadow")
        // Numbering continues across a delete (spec/aws-shadow.md §10).
        let before = record?.version ?? 0
        FuzzProperty.check(next.version == before + 1, "version \(before) became \(next.version), not +1")
        FuzzProperty.check(
            payload.count <= engine.limits.maxDocumentBytes,
            "accepted a \(payload.count)-byte document over the \(engine.limits.maxDocumentBytes)-byte limit")
        JSONProperties.roundTrips(update.accepted, "update/accepted")
        JSONProperties.roundTrips(update.documents, "update/documents")
        // The delta published is the record's own delta: nothing announced that is not stored.
        let stored = next.delta?.state
        if let delta = update.delta {
            JSONProperties.roundTrips(delta, "update/delta")
            FuzzProperty.check(delta["state"]?.objectValue == stored, "published delta differs from the stored one")
        }
        // What the store writes (the snapshot) reads back as the same record.
        let snapshot = next.snapshot
        JSONProperties.roundTrips(snapshot, "stored snapshot")
        FuzzProperty.check(
            ShadowRecord(snapshot: snapshot, exists: true) == next, "a stored shadow reads back different")
        return next
    }
}

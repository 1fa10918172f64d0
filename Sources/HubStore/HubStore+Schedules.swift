public import HubCore

extension HubStore {
    /// Queues the schedule's current form for writing; the ticket says when it is durable.
    public func enqueueSaveSchedule(_ schedule: Schedule, at now: Int64) -> WriteTicket {
        let ticket = WriteTicket()
        let document = schedule.json.compactText
        writer.enqueue(
            { database in
                try database.prepare(
                    """
                    INSERT INTO schedules (id, thing, updated_at, document) VALUES (?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET thing = excluded.thing, updated_at = excluded.updated_at,
                        document = excluded.document
                    """
                ).run([.text(schedule.id), .text(schedule.thing), .integer(now), .text(document)])
            }, completion: { ticket.complete($0) })
        return ticket
    }

    public func saveSchedule(_ schedule: Schedule, at now: Int64) async throws {
        try await enqueueSaveSchedule(schedule, at: now).wait()
    }

    /// Removes a schedule and its run history; returns whether there was one.
    @discardableResult
    public func deleteSchedule(_ id: String) async throws -> Bool {
        try await writer.write { database in
            try database.prepare("DELETE FROM schedule_runs WHERE schedule_id = ?").run([.text(id)])
            try database.prepare("DELETE FROM schedules WHERE id = ?").run([.text(id)])
            return database.changes == 1
        }
    }

    /// Every stored schedule as its stored JSON (the caller parses it and reports what it cannot).
    public func scheduleDocuments() async throws -> [(id: String, document: String)] {
        try await read { database in
            let statement = try database.prepare("SELECT id, document FROM schedules ORDER BY id")
            var result: [(String, String)] = []
            while try statement.step() {
                result.append((statement.string(at: 0) ?? "", statement.string(at: 1) ?? ""))
            }
            return result
        }
    }

    /// Queues a record of what a schedule did (or did not do) at `time` (epoch ms).
    public func enqueueScheduleRun(_ scheduleID: String, time: Int64, kind: String, document: JSONValue)
        -> WriteTicket
    {
        let ticket = WriteTicket()
        let text = document.compactText
        writer.enqueue(
            { database in
                try database.prepare(
                    "INSERT INTO schedule_runs (schedule_id, time, kind, document) VALUES (?, ?, ?, ?)"
                ).run([.text(scheduleID), .integer(time), .text(kind), .text(text)])
            }, completion: { ticket.complete($0) })
        return ticket
    }

    /// A schedule's runs, newest first.
    public func scheduleRuns(_ scheduleID: String, limit: Int = 20) async throws -> [JSONValue] {
        try await read { database in
            let statement = try database.prepare(
                "SELECT document FROM schedule_runs WHERE schedule_id = ? ORDER BY id DESC LIMIT ?")
            try statement.bind([.text(scheduleID), .integer(Int64(limit))])
            var result: [JSONValue] = []
            while try statement.step() {
                if let text = statement.string(at: 0), let document = try? JSONParser().parse(text) {
                    result.append(document)
                }
            }
            return result
        }
    }
}

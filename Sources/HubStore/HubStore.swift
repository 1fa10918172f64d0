import Dispatch
import HubCore

/// The hub's durable state in one SQLite file: WAL, `synchronous=FULL`, named migrations,
/// and group commit for writes (see ``GroupCommitWriter``). Reads use a second connection,
/// which WAL lets run beside the writer.
public final class HubStore: Sendable {
    public struct Options: Sendable {
        /// Most writes committed in one transaction; 1 turns group commit off.
        public var maxBatchSize: Int = 256
        /// Runs on the writer's queue before each COMMIT; a throw fails the batch as a failed
        /// commit would. For tests: a gate that holds a write at exactly that point, or a fault.
        public var beforeCommit: (@Sendable () throws -> Void)?

        public init(maxBatchSize: Int = 256, beforeCommit: (@Sendable () throws -> Void)? = nil) {
            self.maxBatchSize = maxBatchSize
            self.beforeCommit = beforeCommit
        }
    }

    public let path: String
    let writer: GroupCommitWriter
    // Touched only by blocks on `readQueue`, which is serial.
    private nonisolated(unsafe) let reader: SQLiteDatabase
    private let readQueue: DispatchQueue

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String, options: Options = Options(), now: Int64) throws {
        self.path = path
        let writeConnection = try SQLiteDatabase(path: path)
        do {
            try writeConnection.execute("PRAGMA journal_mode=WAL")
            try writeConnection.execute("PRAGMA synchronous=FULL")
            try writeConnection.execute("PRAGMA foreign_keys=ON")
            try Migrations.apply(to: writeConnection, at: now)
            writeConnection.finishJob()
        } catch {
            writeConnection.close()
            throw error
        }
        writer = GroupCommitWriter(
            database: writeConnection, label: "homehub.store.writer", maxBatchSize: options.maxBatchSize,
            beforeCommit: options.beforeCommit)
        reader = try SQLiteDatabase(path: path)
        readQueue = DispatchQueue(label: "homehub.store.reader")
    }

    /// Closes both connections; the store must not be used afterwards.
    public func close() {
        _ = try? writer.exclusive { $0.close() }
        readQueue.sync { reader.close() }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            readQueue.async {
                let result = Result { try body(self.reader) }
                self.reader.finishJob()
                continuation.resume(with: result)
            }
        }
    }

    /// The writer's `PRAGMA synchronous` (2 = FULL), for tests that hold the store to its promise.
    public func writerSynchronousMode() throws -> Int64? {
        try writer.exclusive { try $0.scalar("PRAGMA synchronous") }
    }

    /// `PRAGMA integrity_check`: "ok" for a sound file.
    public func integrityCheck() async throws -> String? {
        try await read { try $0.text("PRAGMA integrity_check") }
    }
}

extension HubStore {
    /// A trivial job through the writer: proves the writer drains its queue and commits (the
    /// writer is what can hang — a stuck fsync, a full disk — so the watchdog asks it).
    public func integrityProbe() async throws -> Bool {
        try await writer.write { try $0.scalar("SELECT 1") == 1 }
    }
}

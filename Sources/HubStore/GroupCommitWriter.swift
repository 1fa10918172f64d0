import Dispatch
import Synchronization

/// Runs write jobs on one connection, many jobs to a transaction.
///
/// Jobs queue up while a commit is under way; the next drain takes all of them (up to
/// `maxBatchSize`), runs each inside its own SAVEPOINT (so one failing job does not undo the
/// others), and commits once: one fsync for the batch. A job's caller resumes only after the
/// COMMIT returned, so "done" always means durable.
final class GroupCommitWriter: Sendable {
    struct Job: Sendable {
        /// Tells the caller the batch could not even start.
        let fail: @Sendable (any Error) -> Void
        /// Runs the job's statements; the returned closure delivers the outcome after the commit.
        let run: @Sendable (SQLiteDatabase) -> @Sendable (_ commitError: (any Error)?) -> Void
    }

    // The connection is touched only by blocks on `queue`, which is serial.
    private nonisolated(unsafe) let database: SQLiteDatabase
    private let queue: DispatchQueue
    private let pending = Mutex<[Job]>([])
    let maxBatchSize: Int
    let beforeCommit: (@Sendable () throws -> Void)?

    init(
        database: SQLiteDatabase, label: String, maxBatchSize: Int, beforeCommit: (@Sendable () throws -> Void)? = nil
    ) {
        self.database = database
        self.queue = DispatchQueue(label: label)
        self.maxBatchSize = max(1, maxBatchSize)
        self.beforeCommit = beforeCommit
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue(body) { continuation.resume(with: $0) }
        }
    }

    /// Queues a job at once, in call order; `completion` hears the outcome after the commit.
    func enqueue<T: Sendable>(
        _ body: @escaping @Sendable (SQLiteDatabase) throws -> T,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) {
        let job = Job(
            fail: { completion(.failure($0)) },
            run: { database in
                let outcome: Result<T, any Error>
                do {
                    try database.execute("SAVEPOINT job")
                    do {
                        outcome = .success(try body(database))
                        try database.execute("RELEASE job")
                    } catch {
                        try? database.execute("ROLLBACK TO job")
                        try? database.execute("RELEASE job")
                        throw error
                    }
                } catch {
                    return { _ in completion(.failure(error)) }
                }
                return { commitError in completion(commitError.map { .failure($0) } ?? outcome) }
            })
        pending.withLock { $0.append(job) }
        queue.async { self.drain() }
    }

    /// Runs a closure on the writer's connection outside any batch (set-up, shutdown).
    func exclusive<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) throws -> T {
        try queue.sync {
            defer { database.finishJob() }
            return try body(database)
        }
    }

    private func drain() {
        while true {
            let batch: [Job] = pending.withLock { jobs in
                let taken = Array(jobs.prefix(maxBatchSize))
                jobs.removeFirst(taken.count)
                return taken
            }
            if batch.isEmpty { return }
            do {
                try database.execute("BEGIN IMMEDIATE")
            } catch {
                for job in batch { job.fail(error) }
                continue
            }
            let deliveries = batch.map { $0.run(database) }
            database.finishJob()
            var commitError: (any Error)?
            do {
                try beforeCommit?()
                try database.execute("COMMIT")
            } catch {
                commitError = error
                try? database.execute("ROLLBACK")
            }
            for deliver in deliveries { deliver(commitError) }
        }
    }
}

import Synchronization

/// A queue that keeps at most one pending value per key: a newer value for a key that is still
/// waiting replaces it (or is merged into it), keeping the key's place in line. Its bound is the
/// number of keys — for the hub, the shadows it has — whatever the rate of changes, and a slow
/// consumer sees the latest state of each key rather than every step.
///
/// Used where only the newest state matters: deltas to plugins, manual changes to the scheduler.
/// Many producers (non-suspending ``put(_:_:merge:)``), one consumer (``next()``).
public final class LatestValues<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct State {
        var order: [Key] = []
        var start = 0
        var values: [Key: Value] = [:]
        var waiter: CheckedContinuation<(Key, Value)?, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds a value for `key`, merging into one still pending (default: the newer wins).
    public func put(_ key: Key, _ value: Value, merge: (Value, Value) -> Value = { $1 }) {
        let resume: (CheckedContinuation<(Key, Value)?, Never>, (Key, Value))? = state.withLock { state in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, (key, value))
            }
            if let old = state.values[key] {
                state.values[key] = merge(old, value)
            } else {
                state.values[key] = value
                state.order.append(key)
            }
            return nil
        }
        if let (waiter, element) = resume { waiter.resume(returning: element) }
    }

    /// The oldest pending key with its latest value; nil once finished (or the task is cancelled).
    public func next() async -> (Key, Value)? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<(Key, Value)?, Never>) in
                let ready: (Key, Value)?? = state.withLock { state in
                    while state.start < state.order.count {
                        let key = state.order[state.start]
                        state.start += 1
                        if state.start > 1024 && state.start * 2 > state.order.count {
                            state.order.removeFirst(state.start)
                            state.start = 0
                        }
                        if let value = state.values.removeValue(forKey: key) { return .some((key, value)) }
                    }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    /// How many keys wait (for status and tests).
    public var pendingCount: Int { state.withLock { $0.values.count } }

    /// Ends the queue: the waiting consumer gets nil, later values are dropped.
    public func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}

/// Runs bodies one at a time, also across their awaits: a change of applications writes the
/// store, then the in-memory table and the broker's files; two at once could leave the table
/// holding the older of two writes. A waiter is resumed in arrival order; the queue is as long as
/// the callers waiting (control-API requests, themselves bounded by their connections).
actor OneAtATime {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async -> T) async -> T {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            busy = true
        }
        let result = await body()
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
        return result
    }
}

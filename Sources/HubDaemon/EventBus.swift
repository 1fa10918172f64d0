public import HubCore
import Synchronization

/// Fans events out to every live subscriber (`GET /v1/events`, `hubctl watch`). A subscriber
/// that falls 1000 events behind loses the oldest: the hub never waits for a slow watcher.
public final class EventBus: Sendable {
    private struct Subscriber {
        var thing: String?
        var continuation: AsyncStream<JSONValue>.Continuation
    }

    private let subscribers = Mutex<(next: Int, all: [Int: Subscriber])>((0, [:]))

    public init() {}

    public func subscribe(thing: String?) -> AsyncStream<JSONValue> {
        let (stream, continuation) = AsyncStream.makeStream(of: JSONValue.self, bufferingPolicy: .bufferingNewest(1000))
        let key = subscribers.withLock { state in
            state.next += 1
            state.all[state.next] = Subscriber(thing: thing, continuation: continuation)
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.all.removeValue(forKey: key) }
        }
        return stream
    }

    public func publish(_ event: JSONValue) {
        let thing = event["thing"]?.stringValue
        let targets = subscribers.withLock { state in
            state.all.values.filter { $0.thing == nil || $0.thing == thing }.map(\.continuation)
        }
        for continuation in targets { continuation.yield(event) }
    }

    /// Ends every stream (at shutdown).
    public func finishAll() {
        let all = subscribers.withLock { state in
            defer { state.all = [:] }
            return Array(state.all.values)
        }
        for subscriber in all { subscriber.continuation.finish() }
    }

    public var subscriberCount: Int { subscribers.withLock { $0.all.count } }
}

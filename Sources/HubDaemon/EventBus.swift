public import HubCore
public import Logging
import Synchronization

/// Fans events out to every live subscriber (`GET /v1/events`, `hubctl watch`).
///
/// Bound and overflow rule: each subscriber has a buffer of ``capacity`` events. A subscriber
/// that falls that far behind is told so — its last event is `{"type": "subscriber.lagged"}` —
/// and dropped, with a log line naming why; the hub never waits for, nor buffers without end
/// for, a slow watcher. A dropped watcher reconnects and reads the current state.
public final class EventBus: Sendable {
    /// A subscription: the events, and a signal that fires when the bus drops it (so that a
    /// writer blocked on a client that does not read can give up on that client).
    public struct Subscription: Sendable {
        public let events: AsyncStream<JSONValue>
        public let dropped: AsyncStream<String>
    }

    private struct Subscriber {
        var thing: String?
        /// A watcher on the API (counted in the status), not one of the hub's own services.
        var watcher: Bool
        var events: AsyncStream<JSONValue>.Continuation
        var dropped: AsyncStream<String>.Continuation
    }

    public let capacity: Int
    let logger: Logger
    private let subscribers = Mutex<(next: Int, all: [Int: Subscriber])>((0, [:]))

    public init(capacity: Int = 1000, logger: Logger = Logger(label: "homehub.events")) {
        self.capacity = max(2, capacity)
        self.logger = logger
    }

    /// `watcher`: a client of the API (`hubctl watch`, the dashboard); the hub's own services
    /// (Home Assistant, cloud sync, history) subscribe with false and are not counted as watchers.
    public func subscribe(thing: String?, watcher: Bool = true) -> Subscription {
        // One slot more than the capacity, for the notice that says the subscriber lagged.
        let (events, eventsContinuation) = AsyncStream.makeStream(
            of: JSONValue.self, bufferingPolicy: .bufferingOldest(capacity + 1))
        let (dropped, droppedContinuation) = AsyncStream.makeStream(
            of: String.self, bufferingPolicy: .bufferingNewest(1))
        let key = subscribers.withLock { state in
            state.next += 1
            state.all[state.next] = Subscriber(
                thing: thing, watcher: watcher, events: eventsContinuation, dropped: droppedContinuation)
            return state.next
        }
        eventsContinuation.onTermination = { [weak self] _ in
            if let subscriber = self?.subscribers.withLock({ $0.all.removeValue(forKey: key) }) {
                subscriber.dropped.finish()
            }
        }
        return Subscription(events: events, dropped: dropped)
    }

    public func publish(_ event: JSONValue) {
        let thing = event["thing"]?.stringValue
        let targets = subscribers.withLock { state in
            state.all.filter { $0.value.thing == nil || $0.value.thing == thing }
        }
        for (key, subscriber) in targets {
            guard case .enqueued(let remaining) = subscriber.events.yield(event), remaining <= 1 else { continue }
            drop(key, subscriber)
        }
    }

    private func drop(_ key: Int, _ subscriber: Subscriber) {
        guard subscribers.withLock({ $0.all.removeValue(forKey: key) }) != nil else { return }
        let reason = "the subscriber fell \(capacity) events behind; reconnect and read the current state"
        subscriber.events.yield(["type": "subscriber.lagged", "message": .string(reason)])
        subscriber.events.finish()
        subscriber.dropped.yield(reason)
        subscriber.dropped.finish()
        logger.warning(
            "event subscriber dropped",
            metadata: ["reason": "\(reason)", "subscriber.thing": "\(subscriber.thing ?? "*")"])
    }

    /// Ends every stream (at shutdown).
    public func finishAll() {
        let all = subscribers.withLock { state in
            defer { state.all = [:] }
            return Array(state.all.values)
        }
        for subscriber in all {
            subscriber.events.finish()
            subscriber.dropped.finish()
        }
    }

    /// Watchers on the API (the hub's own subscriptions are not counted).
    public var subscriberCount: Int { subscribers.withLock { $0.all.values.filter(\.watcher).count } }
}

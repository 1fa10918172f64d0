import HubCore
import Testing

@testable import HubDaemon

@Suite struct BoundsTests {
    @Test func aSubscriberThatFallsBehindIsToldAndDropped() async {
        let bus = EventBus(capacity: 10)
        let subscription = bus.subscribe(thing: nil)
        for index in 0..<100 { bus.publish(["type": "tick", "n": .integer(Int64(index))]) }
        #expect(bus.subscriberCount == 0)
        var received: [JSONValue] = []
        for await event in subscription.events { received.append(event) }
        #expect(received.count == 11, "the capacity's 10 events, then the notice")
        #expect(received.last?["type"] == "subscriber.lagged")
        var reasons: [String] = []
        for await reason in subscription.dropped { reasons.append(reason) }
        #expect(reasons.count == 1)
    }

    @Test func aSubscriberThatKeepsUpIsNotDropped() async {
        let bus = EventBus(capacity: 10)
        let subscription = bus.subscribe(thing: "a")
        var iterator = subscription.events.makeAsyncIterator()
        for index in 0..<100 {
            bus.publish(["type": "tick", "thing": "a", "n": .integer(Int64(index))])
            bus.publish(["type": "tick", "thing": "b"])  // another thing's: not counted against it
            #expect(await iterator.next()?["n"] == .integer(Int64(index)))
        }
        #expect(bus.subscriberCount == 1)
    }

    @Test func latestValuesKeepOnePendingValuePerKeyInFirstChangedOrder() async {
        let queue = LatestValues<String, Int>()
        queue.put("a", 1)
        queue.put("b", 1)
        queue.put("a", 2)
        queue.put("a", 3) { $0 + $1 }
        #expect(queue.pendingCount == 2)
        let first = await queue.next()
        let second = await queue.next()
        #expect(first?.0 == "a" && first?.1 == 5)
        #expect(second?.0 == "b" && second?.1 == 1)
        queue.finish()
        #expect(await queue.next() == nil)
    }
}

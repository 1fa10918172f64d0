import Dispatch
import Synchronization

/// A bounded hand-over from a thread that may block (libmosquitto's network loop, a plugin's
/// stdout reader) to one async consumer.
///
/// Bound and overflow rule: at most `capacity` elements wait; a producer that finds the inbox
/// full blocks its own thread until the consumer takes one. That is backpressure to the source
/// — the thread stops reading its socket or pipe, and the kernel's buffers, then TCP or the
/// pipe, hold the sender — never a queue without end. Producers must not be cooperative-pool
/// threads.
public final class ThreadInbox<Element: Sendable>: AsyncSequence, Sendable {
    public let capacity: Int
    // Starts at 0 and is signalled `capacity` times: libdispatch traps when a semaphore is
    // released below its initial value, which a full inbox at shutdown would be otherwise.
    private let slots = DispatchSemaphore(value: 0)
    private let closed = Atomic<Bool>(false)
    private let stream: AsyncStream<Element>
    private let continuation: AsyncStream<Element>.Continuation

    public init(capacity: Int) {
        self.capacity = Swift.max(1, capacity)
        (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .unbounded)
        for _ in 0..<self.capacity { slots.signal() }
    }

    /// Hands one element over, waiting while the inbox is full; false once finished.
    @discardableResult
    public func put(_ element: Element) -> Bool {
        guard !closed.load(ordering: .acquiring) else { return false }
        slots.wait()
        guard !closed.load(ordering: .acquiring) else {
            slots.signal()  // wake the next blocked producer too
            return false
        }
        continuation.yield(element)
        return true
    }

    /// Ends the inbox: the consumer reads what waits, then sees the end; blocked producers return.
    public func finish() {
        closed.store(true, ordering: .releasing)
        continuation.finish()
        slots.signal()
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<Element>.AsyncIterator
        let slots: DispatchSemaphore

        public mutating func next() async -> Element? {
            let element = await base.next()
            if element != nil { slots.signal() }
            return element
        }
    }

    /// One consumer only (the elements are handed over once).
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), slots: slots)
    }
}

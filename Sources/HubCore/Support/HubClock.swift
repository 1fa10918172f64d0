/// Where time comes from. Logic takes a clock so tests can set and advance it.
public protocol HubClock: Sendable {
    /// Wall-clock time in integer epoch seconds (shadow timestamps).
    func epochSeconds() -> Int64
    /// A monotonic reading in nanoseconds, for rates and timeouts.
    func monotonicNanoseconds() -> UInt64
    /// Wall-clock time in epoch milliseconds (command deadlines).
    func epochMilliseconds() -> Int64
}

extension HubClock {
    public func epochMilliseconds() -> Int64 { epochSeconds() * 1000 }
}

extension HubClock {
    /// The monotonic reading in seconds.
    public func monotonicSeconds() -> Double { Double(monotonicNanoseconds()) / 1e9 }
}

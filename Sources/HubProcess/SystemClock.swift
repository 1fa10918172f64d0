public import HubCore

#if canImport(Glibc)
    import Glibc
#endif

/// The machine's clocks, the only place the hub reads them: CLOCK_REALTIME for timestamps, CLOCK_MONOTONIC for rates.
///
/// `offsetSeconds` shifts the wall clock (from `HOMEHUB_CLOCK_OFFSET_SECONDS`): a way to see
/// what a schedule does at another time without changing the machine's clock (tests use it).
public struct SystemClock: HubClock {
    public let offsetSeconds: Int64

    public init(offsetSeconds: Int64 = 0) {
        self.offsetSeconds = offsetSeconds
    }

    /// The offset the environment asks for (0 when unset or not a whole number).
    public static var environmentOffset: Int64 {
        guard let text = getenv("HOMEHUB_CLOCK_OFFSET_SECONDS") else { return 0 }
        return Int64(String(cString: text)) ?? 0
    }

    public func epochSeconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) + offsetSeconds
    }

    public func epochMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return (Int64(time.tv_sec) + offsetSeconds) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    public func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

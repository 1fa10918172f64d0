/// A token bucket per key: `rate` requests per second sustained, bursts up to `burst`
/// (default: one second's worth). Pure: the caller passes the monotonic time.
public struct RateLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    private var buckets: [String: (tokens: Double, updated: UInt64)] = [:]

    public init(requestsPerSecond: Double, burst: Double? = nil) {
        rate = requestsPerSecond
        self.burst = max(1, burst ?? requestsPerSecond)
    }

    /// Takes a token for `key` if one is left; `false` means the request is over the limit.
    public mutating func allow(_ key: String, at nanoseconds: UInt64) -> Bool {
        guard rate > 0 else { return true }
        var bucket = buckets[key] ?? (tokens: burst, updated: nanoseconds)
        let elapsed = Double(nanoseconds &- bucket.updated) / 1e9
        bucket.tokens = min(burst, bucket.tokens + max(0, elapsed) * rate)
        bucket.updated = nanoseconds
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        buckets[key] = bucket
        if buckets.count > 10_000 { forgetFullBuckets(at: nanoseconds) }
        return allowed
    }

    /// Drops buckets that have refilled completely: they hold no information.
    private mutating func forgetFullBuckets(at nanoseconds: UInt64) {
        buckets = buckets.filter { Double(nanoseconds &- $0.value.updated) / 1e9 * rate + $0.value.tokens < burst }
    }
}

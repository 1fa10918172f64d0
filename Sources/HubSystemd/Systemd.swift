internal import CSystemd

/// What homehubd uses of libsystemd: socket activation and service notification. Each call
/// is harmless when the process was not started by systemd.
public enum Systemd {
    /// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
    public static let firstListenDescriptor: Int32 = 3

    /// Descriptors passed by socket activation (empty when none); the environment variables
    /// are removed so that children do not inherit them.
    public static func listenDescriptors() -> [Int32] {
        let count = sd_listen_fds(1)
        guard count > 0 else { return [] }
        return (0..<count).map { firstListenDescriptor + $0 }
    }

    /// Sends `state` (e.g. "READY=1", "STATUS=…", "WATCHDOG=1", "STOPPING=1") to the service
    /// manager; returns whether anyone was listening.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    /// The watchdog interval in microseconds when systemd expects WATCHDOG=1, else nil.
    public static func watchdogMicroseconds() -> UInt64? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return microseconds
    }
}

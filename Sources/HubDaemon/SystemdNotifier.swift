import HubStore
import HubSystemd
import Logging
import ServiceLifecycle

/// Tells systemd how the hub is doing: READY=1 once the API answers and the broker is
/// connected, STATUS= lines for `systemctl status`, WATCHDOG=1 while the hub's own loops still
/// answer, STOPPING=1 at shutdown. Does nothing visible when not run by systemd.
struct SystemdNotifier: Service {
    let status: HubStatus
    let shadows: ShadowService
    let store: HubStore
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await notify() }
        } catch is CancellationError where Task.isShuttingDownGracefully {}
        Systemd.notify("STOPPING=1\nSTATUS=stopping")
    }

    func notify() async throws {
        Systemd.notify("STATUS=starting: connecting to the MQTT broker")
        while !status.isServing {
            try await Task.sleep(for: .milliseconds(20))
        }
        var lastStatus = ""
        let watchdog = Systemd.watchdogMicroseconds()
        // Ping at a third of the interval; check the status line as often.
        let period = Duration.microseconds(Int64(min(watchdog.map { $0 / 3 } ?? 2_000_000, 2_000_000)))
        Systemd.notify("READY=1")
        logger.notice("homehubd ready")
        while true {
            let line = await statusLine()
            if line != lastStatus {
                Systemd.notify("STATUS=\(line)")
                lastStatus = line
            }
            if watchdog != nil, await isHealthy() { Systemd.notify("WATCHDOG=1") }
            try await Task.sleep(for: period)
        }
    }

    func statusLine() async -> String {
        let broker = status.isReady ? "broker connected" : "broker disconnected, reconnecting"
        return "serving \(await shadows.shadowCount) shadows; \(broker)"
    }

    /// The shadow service's actor and the store's reader both answer: the loops that serve
    /// requests are alive. (A lost broker is not a reason to be restarted: it reconnects.)
    func isHealthy() async -> Bool {
        _ = await shadows.shadowCount
        return (try? await store.integrityProbe()) == true
    }
}

public import HubCore
import Synchronization

/// What the hub knows about its own health, shared by the services that change it.
public final class HubStatus: Sendable {
    struct State {
        var brokerConnected = false
        var subscribed = false
        var brokerConnectedSince: Int64?
        var apiListening = false
        /// Why the embedded broker is not serving, in words (nil: no known problem).
        var brokerProblem: String?
    }

    private let state = Mutex(State())
    let clock: any HubClock
    public let startedAt: Int64
    public static var version: String { HubVersion.current }

    public init(clock: any HubClock) {
        self.clock = clock
        self.startedAt = clock.epochSeconds()
    }

    func brokerConnection(_ connected: Bool) {
        let now = clock.epochSeconds()
        state.withLock { state in
            state.brokerConnected = connected
            state.brokerConnectedSince = connected ? now : nil
        }
    }

    func brokerProblem(_ problem: String?) { state.withLock { $0.brokerProblem = problem } }

    func subscribed() { state.withLock { $0.subscribed = true } }

    func apiListening() { state.withLock { $0.apiListening = true } }

    /// What systemd waits for before READY=1: the API answers and the broker is connected.
    var isServing: Bool { state.withLock { $0.apiListening && $0.brokerConnected && $0.subscribed } }

    public var isReady: Bool { state.withLock { $0.brokerConnected && $0.subscribed } }

    public func health() async -> (ready: Bool, detail: JSONValue) {
        let snapshot = state.withLock { $0 }
        let ready = snapshot.brokerConnected && snapshot.subscribed
        let status: String
        if ready {
            status = "ok"
        } else if let problem = snapshot.brokerProblem {
            status = problem
        } else if snapshot.subscribed {
            status = "broker disconnected; reconnecting"
        } else {
            status = "starting: connecting to the broker"
        }
        return (
            ready,
            [
                "status": .string(status),
                "version": .string(Self.version),
                "uptimeSeconds": .integer(clock.epochSeconds() - startedAt),
                "broker": [
                    "connected": .bool(snapshot.brokerConnected),
                    "since": snapshot.brokerConnectedSince.map(JSONValue.integer) ?? .null,
                    "problem": snapshot.brokerProblem.map(JSONValue.string) ?? .null,
                ],
                "subscribed": .bool(snapshot.subscribed),
            ]
        )
    }
}

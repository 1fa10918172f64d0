import AsyncAlgorithms
import HubAPI
import HubCore
import HubCrypto
import HubMQTT
import HubPlugins
import HubProcess
import HubStore
import HubSystemd
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the plugins and hands them the deltas of their devices' shadows: the latest delta of
/// each shadow, in the order the shadows changed (``LatestValues``).
struct PluginService: Service {
    let plugins: PluginManager
    let shadows: ShadowService
    let deltas: LatestValues<ShadowID, ShadowFanOut.DeltaNotice>

    func run() async throws {
        try await runUntilGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await plugins.run() }
                while let (id, notice) = await deltas.next() {
                    guard let type = shadows.registry.deviceType(of: id.thingName), let shadow = id.shadowName,
                        type.attributes(of: shadow) != nil
                    else { continue }
                    await plugins.notify(
                        type: type.name, "shadow.delta",
                        [
                            "thing": .string(id.thingName), "shadow": .string(shadow), "delta": notice.delta,
                            "desired": .object(notice.desired), "version": .integer(notice.version),
                        ])
                }
            }
        }
    }
}

struct BrokerService: Service {
    let broker: EmbeddedBroker
    let status: HubStatus
    let access: BrokerAccess?

    func run() async throws {
        try await runUntilGracefulShutdown {
            try await broker.run(
                onStart: { access?.brokerStarted(pid: $0.pid) }, onProblem: { status.brokerProblem($0) })
        }
    }
}

/// One HTTPS listener (AWS's data-plane API). A listener that cannot bind stops the hub with a
/// sentence that names the address and the key to change.
struct HTTPSService: Service {
    let server: UnixSocketHTTPServer
    let address: String

    func run() async throws {
        do {
            try await runUntilGracefulShutdown { try await server.run() }
        } catch let error as ConfigurationError {
            throw error
        } catch  where !Task.isShuttingDownGracefully {
            throw ConfigurationError(
                message:
                    "cannot serve HTTPS on \(address): \(error); stop what holds it, or change [http] listen in hub.toml"
            )
        }
    }
}

struct ControlAPIService: Service {
    let server: UnixSocketHTTPServer
    let status: HubStatus

    func run() async throws {
        try await runUntilGracefulShutdown { try await server.run(onListening: { status.apiListening() }) }
    }
}

/// Runs `body` until graceful shutdown cancels it; being cancelled that way is a clean stop.
func runUntilGracefulShutdown(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown { try await body() }
    } catch is CancellationError where Task.isShuttingDownGracefully {
        return
    }
}

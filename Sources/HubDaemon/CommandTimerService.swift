import AsyncAlgorithms
import HubCore
import HubPlugins
import HubStore
import Logging
import ServiceLifecycle

/// Runs the command timer (deadlines checked every 100 ms against the hub's clock) and feeds
/// the devices' progress and results to the ledger, in the order they came.
struct CommandTimerService: Service {
    let commands: CommandService
    /// Unbuffered: a producer (a plugin's reader, the MQTT loop) waits until its update is taken.
    let updates: AsyncChannel<CommandUpdate>

    func run() async throws {
        try await runUntilGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    for await update in updates {
                        await commands.report(
                            id: update.id, thing: update.thing, status: update.status, progress: update.progress,
                            message: update.message, result: update.result)
                    }
                }
                while true {
                    try await Task.sleep(for: .milliseconds(100))
                    await commands.tick()
                }
            }
        }
    }
}

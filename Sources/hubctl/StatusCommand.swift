import ArgumentParser
import HubCore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the hub's version, uptime, broker and counts.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let status = try await global.call("GET", "/v1/status")
        if global.json {
            print(status.compactText)
            return
        }
        let broker = status["broker"]?["connected"]?.boolValue == true ? "connected" : "disconnected"
        print(
            "homehubd \(Output.text(status["version"]))  up \(Output.text(status["uptimeSeconds"])) s  ready: \(Output.text(status["ready"]))"
        )
        if let problem = status["broker"]?["problem"]?.stringValue {
            print("broker:   \(broker): \(problem)")
        } else {
            print("broker:   \(broker) since \(Output.time(status["broker"]?["since"]))")
        }
        print("things:   \(Output.text(status["counts"]?["things"]))")
        print("shadows:  \(Output.text(status["counts"]?["shadows"]))")
        print("commands: \(Output.text(status["counts"]?["commands"]))")
        print("plugins:  \(status["plugins"]?.arrayValue?.count ?? 0)")
    }
}

import ArgumentParser
import HubCore

/// `hubctl cloud status`: sync with AWS IoT Core (docs/cloud.md).
struct CloudCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloud", abstract: "Sync with AWS IoT Core.", subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Connected or not since when, per shadow the last sync and what is pending, the last error.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let body = try await global.call("GET", "/v1/cloud")
            if global.json {
                print(body.compactText)
                return
            }
            guard body["enabled"] == true else {
                print("cloud sync is off ([cloud] endpoint in hub.toml; docs/cloud.md)")
                return
            }
            let since = body["since"].flatMap { $0 == .null ? nil : $0 }
            print(
                "AWS IoT Core \(Output.text(body["endpoint"])):\(Output.text(body["port"])) as \(Output.text(body["clientId"])): "
                    + (body["connected"] == true
                        ? "connected since \(since.map { Output.time($0) } ?? "-")" : "not connected"))
            print(
                "cloud changes may reach sensitive shadows and commands: \(body["allowSensitive"] == true ? "yes" : "no")"
            )
            if let error = body["lastError"], error != .null { print("last error: \(Output.text(error))") }
            let rows = (body["shadows"]?.arrayValue ?? []).filter { $0["syncsState"] == true }.map { shadow in
                [
                    "\(Output.text(shadow["thing"]))/\(shadow["shadow"]?.stringValue ?? "(classic)")",
                    Output.text(shadow["cloudThing"]), Output.text(shadow["direction"]),
                    shadow["lastSync"].flatMap { $0 == .null ? nil : Output.time($0) } ?? "never",
                    Output.text(shadow["pending"]),
                    shadow["lastError"].flatMap { $0 == .null ? nil : Output.text($0) } ?? "",
                ]
            }
            Output.table(["SHADOW", "CLOUD THING", "DIRECTION", "LAST SYNC", "PENDING", "ERROR"], rows)
        }
    }
}

import ArgumentParser
import HubCore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Show the audit log: who changed what, and the answer.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Only entries about this thing.") var thing: String?
    @Option(name: .shortAndLong, help: "How many of the newest entries.") var limit = 50

    func run() async throws {
        var path = "/v1/audit?limit=\(limit)"
        if let thing { path += "&thing=\(thing)" }
        let body = try await global.call("GET", path)
        if global.json {
            print(body.compactText)
            return
        }
        Output.table(
            ["TIME", "WHO", "PATH", "ACTION", "TARGET", "RESULT"],
            (body["entries"]?.arrayValue ?? []).map { entry in
                // Rows from before identities were recorded name the user and uid only.
                var who = entry["identity"]?.stringValue ?? "user:\(Output.text(entry["user"]))"
                if let uid = entry["uid"]?.integerValue { who += " (uid \(uid))" }
                return [
                    Output.time(entry["time"]), who, Output.text(entry["path"] ?? "api"),
                    Output.text(entry["action"]), Output.text(entry["target"]),
                    Output.text(entry["result"]) + (entry["detail"].map { " " + Output.text($0) } ?? ""),
                ]
            })
    }
}

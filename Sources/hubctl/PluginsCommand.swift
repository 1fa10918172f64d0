import ArgumentParser
import HubCore
import HubPlugins

struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "List, inspect, check and restart device-type plugins.",
        subcommands: [List.self, Show.self, Check.self, Restart.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "Loaded plugins, and folders that were skipped.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let body = try await global.call("GET", "/v1/plugins")
            if global.json {
                print(body.compactText)
                return
            }
            Output.table(
                ["ID", "STATE", "PID", "RESTARTS", "TYPES", "PROBLEM"],
                (body["plugins"]?.arrayValue ?? []).map { plugin in
                    [
                        Output.text(plugin["id"]), Output.text(plugin["state"]), Output.text(plugin["pid"] ?? "-"),
                        Output.text(plugin["restarts"]),
                        (plugin["deviceTypes"]?.arrayValue ?? []).map { Output.text($0) }.joined(separator: ","),
                        Output.text(plugin["lastProblem"] ?? ""),
                    ]
                })
            let skipped = body["skipped"]?.arrayValue ?? []
            if !skipped.isEmpty {
                print("\nskipped:")
                for entry in skipped { print("  \(Output.text(entry["directory"])): \(Output.text(entry["reason"]))") }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "A plugin with its device types, attributes and commands.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let plugin = try await global.call("GET", "/v1/plugins/\(id)")
            if global.json {
                print(plugin.compactText)
                return
            }
            print(
                "\(id)  \(Output.text(plugin["state"]))  pid \(Output.text(plugin["pid"] ?? "-"))  restarts \(Output.text(plugin["restarts"]))"
            )
            if let problem = plugin["lastProblem"], problem != .null { print("last problem: \(Output.text(problem))") }
            let declared = (plugin["declaredTypes"]?.arrayValue ?? []).map { type -> JSONValue in
                guard case .object(var object) = type else { return type }
                object["declared"] = true
                return .object(object)
            }
            for type in (plugin["deviceTypes"]?.arrayValue ?? []) + declared {
                let origin = type["declared"] == true ? " (declared at run time by the plugin)" : ""
                print("\ndevice type \(Output.text(type["name"]))\(origin)")
                for shadow in type["shadows"]?.arrayValue ?? [] {
                    let note = shadow["sensitive"] == true ? " (sensitive: changing it needs the sensitive role)" : ""
                    print("  shadow \(Output.text(shadow["name"]))\(note)")
                    let rows = (shadow["attributes"]?.objectValue ?? [:]).map { name, attribute in
                        [
                            "    " + name, Output.text(attribute["type"]), describe(attribute),
                            attribute["writable"] == false ? "read-only" : "",
                        ]
                    }
                    Output.table(["    ATTRIBUTE", "TYPE", "RULE", ""], rows)
                }
                for (name, command) in type["commands"]?.objectValue ?? [:] {
                    print(
                        "  command \(name)\(command["sensitive"] == true ? " (sensitive)" : "")  timeout \(Output.text(command["timeoutSeconds"])) s"
                    )
                }
            }
        }

        func describe(_ attribute: JSONValue) -> String {
            var parts: [String] = []
            if let values = attribute["values"]?.arrayValue {
                parts.append(values.map { Output.text($0) }.joined(separator: "|"))
            }
            if let minimum = attribute["min"], let maximum = attribute["max"] {
                parts.append("\(Output.text(minimum))…\(Output.text(maximum))")
            }
            if let step = attribute["step"] { parts.append("step \(Output.text(step))") }
            if let unit = attribute["unit"] { parts.append(Output.text(unit)) }
            return parts.joined(separator: " ")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check", abstract: "Validate a plugin folder (manifest and executable) without a hub.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The plugin's folder.") var directory: String

        func run() async throws {
            switch PluginCatalog.check(directory) {
            case .success(let plugin):
                if global.json {
                    print(
                        JSONValue.object([
                            "ok": true, "id": .string(plugin.manifest.id),
                            "deviceTypes": .array(plugin.manifest.deviceTypes.map { .string($0.name) }),
                        ]).compactText)
                } else {
                    print(
                        "\(directory): plugin '\(plugin.manifest.id)' \(plugin.manifest.version) is valid; device types: \(plugin.manifest.deviceTypes.map(\.name).joined(separator: ", "))"
                    )
                }
            case .failure(let problem):
                if global.json {
                    print(JSONValue.object(["ok": false, "reason": .string(problem.reason)]).compactText)
                }
                throw Output.fail(problem.reason, code: .rejected)
            }
        }
    }

    struct Restart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "restart", abstract: "Restart a plugin's process (also out of quarantine).")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let body = try await global.call("POST", "/v1/plugins/\(id)/restart")
            print(global.json ? body.compactText : "restarting \(id)")
        }
    }
}

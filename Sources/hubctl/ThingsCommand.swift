import ArgumentParser
import HubCore
import HubProcess

#if canImport(Glibc)
    import Glibc
#endif

struct ThingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "things", abstract: "List, register, show and remove things.",
        subcommands: [List.self, Add.self, Show.self, Remove.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List registered things.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let body = try await global.call("GET", "/v1/things")
            if global.json {
                print(body.compactText)
                return
            }
            let things = body["things"]?.arrayValue ?? []
            Output.table(
                ["NAME", "TYPE", "PLUGIN", "SHADOWS", "REGISTERED", ""],
                things.map { thing in
                    let shadows = (thing["shadows"]?.arrayValue ?? []).map { $0.stringValue ?? "(classic)" }
                    let gone = thing["goneAt"].flatMap { $0 == .null ? nil : $0 }
                    return [
                        Output.text(thing["name"]), Output.text(thing["type"] ?? "-"),
                        Output.text(thing["plugin"].flatMap { $0 == .null ? nil : $0 } ?? "-"),
                        shadows.joined(separator: ","), Output.time(thing["createdAt"]),
                        gone.map { "gone since \(Output.time($0))" } ?? "",
                    ]
                })
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Register a thing (again: updates its type and config).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The thing's name: 1–128 of a-z A-Z 0-9 : _ -") var name: String
        @Option(name: .long, help: "Its device type (e.g. heater).") var type: String?
        @Argument(help: "Configuration as key=value.") var config: [String] = []
        @Option(
            name: .long,
            help: ArgumentHelp(
                "Also issue the device a client certificate from the hub's CA: writes DIR/THING.key, DIR/THING.crt and DIR/ca.crt.",
                valueName: "DIR"))
        var issueCert: String?

        func run() async throws {
            let settings: JSONObject
            do {
                settings = try Assignments.parse(config)
            } catch {
                throw ValidationError(error.description)
            }
            var request: JSONObject = ["name": .string(name), "config": .object(settings)]
            if let type { request["type"] = .string(type) }
            let body = try await global.call("POST", "/v1/things", body: .object(request))
            guard let directory = issueCert else {
                print(global.json ? body.compactText : "registered \(name)\(type.map { " (\($0))" } ?? "")")
                return
            }
            let issued = try await global.call("POST", "/v1/things/\(name)/certificate")
            mkdir(directory, 0o755)
            for (file, key, mode) in [
                ("\(name).key", "key", 0o600), ("\(name).crt", "certificate", 0o644), ("ca.crt", "ca", 0o644),
            ] {
                let path = "\(directory)/\(file)"
                guard let text = issued[key]?.stringValue, FileContents.write(text, to: path, mode: UInt32(mode)) else {
                    throw Output.fail("cannot write \(path): \(String(cString: strerror(errno)))", code: .hubFailed)
                }
            }
            if global.json {
                print(JSONValue.object(["thing": .string(name), "directory": .string(directory)]).compactText)
                return
            }
            print("registered \(name)\(type.map { " (\($0))" } ?? "")")
            print(
                "certificate: \(directory)/\(name).crt, key: \(directory)/\(name).key (0600), CA: \(directory)/ca.crt")
            let port = issued["tlsPort"]?.integerValue ?? 0
            print(
                port == 0
                    ? "the hub's TLS listener is off: set mqtt.tls_port in hub.toml to let the device connect"
                    : "the device connects with TLS to port \(port); it may use only $aws/things/\(name)/… and cmd/\(name)/…"
            )
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Show a thing, its shadows and connectivity.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let thing = try await global.call("GET", "/v1/things/\(name)")
            if global.json {
                print(thing.compactText)
                return
            }
            print(
                "\(name)  type: \(Output.text(thing["type"] ?? "-"))  registered: \(Output.text(thing["registered"]))")
            let connectivity = thing["connectivity"]
            switch connectivity?["connected"]?.boolValue {
            case true?: print("connected since \(Output.time(connectivity?["since"]))")
            case false?: print("disconnected since \(Output.time(connectivity?["since"]))")
            case nil: print("connectivity: unknown (the device reports no 'connected' attribute)")
            }
            for shadow in thing["shadows"]?.arrayValue ?? [] {
                print("")
                Output.shadow(shadow, title: "shadow \(shadow["name"]?.stringValue ?? "(classic)")")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove a thing's registration (its shadows are kept, as in AWS).")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let body = try await global.call("DELETE", "/v1/things/\(name)")
            print(global.json ? body.compactText : "removed \(name)")
        }
    }
}

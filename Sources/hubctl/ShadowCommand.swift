import ArgumentParser
import HubCore
import HubProcess

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

struct ShadowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shadow", abstract: "Get, update and delete shadows (AWS IoT semantics).",
        subcommands: [Get.self, Update.self, Delete.self])

    struct Target: ParsableArguments {
        @Argument(help: "The thing.") var thing: String
        @Option(name: .long, help: "A named shadow (default: the classic shadow).") var name: String?

        var path: String { "/things/\(thing)/shadow" + (name.map { "?name=\($0)" } ?? "") }
        var title: String { "\(thing) \(name.map { "shadow \($0)" } ?? "(classic shadow)")" }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "Show a shadow.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target

        func run() async throws {
            let document = try await global.call("GET", target.path)
            if global.json { print(document.compactText) } else { Output.shadow(document, title: target.title) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "update", abstract: "Update desired and/or reported state.",
            discussion: "Example: hubctl shadow update lamp --desired on=true brightness=80")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target
        @Option(name: .long, parsing: .upToNextOption, help: "Desired state as key=value.") var desired: [String] = []
        @Option(name: .long, parsing: .upToNextOption, help: "Reported state as key=value.") var reported: [String] = []
        @Option(name: .long, help: "A whole update document ({\"state\": …}) from a file, - for stdin.") var file:
            String?
        @Option(name: .long, help: "Only if the shadow is at this version (else 409).") var version: Int?

        func validate() throws {
            if file == nil && desired.isEmpty && reported.isEmpty {
                throw ValidationError("give --desired k=v…, --reported k=v… or --file doc.json")
            }
        }

        func run() async throws {
            var request: JSONObject
            if let file {
                guard let text = FileContents.text(file), let document = try? JSONParser().parse(Array(text.utf8))
                else {
                    throw ValidationError("\(file) does not hold a JSON document")
                }
                request = document.objectValue ?? [:]
            } else {
                var state = JSONObject()
                do {
                    if !desired.isEmpty { state["desired"] = .object(try Assignments.parse(desired)) }
                    if !reported.isEmpty { state["reported"] = .object(try Assignments.parse(reported)) }
                } catch {
                    throw ValidationError(error.description)
                }
                request = ["state": .object(state)]
            }
            if let version { request["version"] = .integer(Int64(version)) }
            let accepted = try await global.call("POST", target.path, body: .object(request))
            print(
                global.json
                    ? accepted.compactText : "\(target.title): accepted, version \(Output.text(accepted["version"]))")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a shadow.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target

        func run() async throws {
            let body = try await global.call("DELETE", target.path)
            print(
                global.json ? body.compactText : "\(target.title): deleted at version \(Output.text(body["version"]))")
        }
    }
}

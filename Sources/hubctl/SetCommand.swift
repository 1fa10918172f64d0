import ArgumentParser
import HubCore

struct SetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Set desired attributes of a thing.",
        discussion: """
            Example: hubctl set livingroom targetTemperature=21 mode=heat
            The change goes to the device type's shadow (the thing's `primaryShadow`), or to --name, \
            or to the classic shadow when the thing has no type.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The thing.") var thing: String
    @Argument(help: "Attributes as key=value.") var attributes: [String] = []
    @Option(name: .long, help: "The named shadow to change.") var name: String?

    func validate() throws {
        if attributes.isEmpty { throw ValidationError("give at least one attribute=value") }
    }

    func run() async throws {
        let desired: JSONObject
        do {
            desired = try Assignments.parse(attributes)
        } catch {
            throw ValidationError(error.description)
        }
        var shadow = name
        if shadow == nil, let thing = try? await global.client.request("GET", "/v1/things/\(thing)"),
            thing.status == 200
        {
            shadow = thing.json?["primaryShadow"]?.stringValue
        }
        let path = "/things/\(thing)/shadow" + (shadow.map { "?name=\($0)" } ?? "")
        let accepted = try await global.call("POST", path, body: ["state": ["desired": .object(desired)]])
        print(
            global.json
                ? accepted.compactText
                : "\(thing): desired \(JSONValue.object(desired).compactText) accepted, version \(Output.text(accepted["version"]))"
        )
    }
}

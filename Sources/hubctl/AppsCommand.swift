import ArgumentParser
import HubCore
import HubProcess

#if canImport(Glibc)
    import Glibc
#endif

struct AppsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apps",
        abstract: "Application identities: programs that use the hub over MQTT, each with a role.",
        discussion: """
            An application has a name, a role (read, write or sensitive) and credentials the hub \
            issues: an MQTT user name (its name) and password, shown once, and on request a client \
            certificate. Adding, rotating and removing need the sensitive role (docs/security.md).
            """,
        subcommands: [List.self, Add.self, Show.self, Rotate.self, Remove.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List applications.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let body = try await global.call("GET", "/v1/apps")
            if global.json {
                print(body.compactText)
                return
            }
            Output.table(
                ["NAME", "ROLE", "MQTT USER", "CREATED", "ROTATED"],
                (body["applications"]?.arrayValue ?? []).map { app in
                    [
                        Output.text(app["name"]), Output.text(app["role"]), Output.text(app["mqtt"]?["username"]),
                        Output.time(app["createdAt"]), Output.time(app["rotatedAt"]),
                    ]
                })
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Make an application and print its credentials once.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Its name (1–64 of a-z A-Z 0-9 _ -); also its MQTT user name.") var name: String
        @Option(name: .long, help: "read, write or sensitive.") var role: String
        @Option(
            name: .long,
            help: ArgumentHelp(
                "Also issue a client certificate (CN app.NAME): writes DIR/NAME.key, DIR/NAME.crt and DIR/ca.crt.",
                valueName: "DIR"))
        var issueCert: String?
        @Flag(
            name: .long,
            help: "Also issue an AWS access key pair for the HTTPS API (SigV4: the AWS CLI and SDKs).")
        var accessKey = false

        func validate() throws {
            guard Permission(rawValue: role) != nil else {
                throw ValidationError("--role must be read, write or sensitive (got '\(role)')")
            }
        }

        func run() async throws {
            var request: JSONObject = ["name": .string(name), "role": .string(role)]
            if issueCert != nil { request["issueCert"] = true }
            if accessKey { request["accessKey"] = true }
            let body = try await global.call("POST", "/v1/apps", body: .object(request))
            try AppsCommand.show(body, certificateDirectory: issueCert, json: global.json)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show an application.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let body = try await global.call("GET", "/v1/apps/\(name)")
            if global.json {
                print(body.compactText)
                return
            }
            print("name: \(Output.text(body["name"]))")
            print("role: \(Output.text(body["role"]))")
            print("mqtt user: \(Output.text(body["mqtt"]?["username"]))")
            print("created: \(Output.time(body["createdAt"])), credentials rotated: \(Output.time(body["rotatedAt"]))")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate",
            abstract: "Give an application a new password (the old one stops working at once); print it once.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let body = try await global.call("POST", "/v1/apps/\(name)/rotate")
            try AppsCommand.show(body, certificateDirectory: nil, json: global.json)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove", abstract: "Remove an application: its logins stop working at once.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let body = try await global.call("DELETE", "/v1/apps/\(name)")
            print(global.json ? body.compactText : "removed \(name)")
        }
    }

    /// Prints credentials once (and writes a certificate's files when one was issued).
    static func show(_ body: JSONValue, certificateDirectory: String?, json: Bool) throws {
        let name = Output.text(body["name"])
        if let directory = certificateDirectory, let certificate = body["certificate"] {
            mkdir(directory, 0o755)
            for (file, key, mode) in [
                ("\(name).key", "key", 0o600), ("\(name).crt", "certificate", 0o644), ("ca.crt", "ca", 0o644),
            ] {
                let path = "\(directory)/\(file)"
                guard let text = certificate[key]?.stringValue, FileContents.write(text, to: path, mode: UInt32(mode))
                else {
                    throw Output.fail("cannot write \(path): \(String(cString: strerror(errno)))", code: .hubFailed)
                }
            }
        }
        if json {
            var object = body.objectValue ?? [:]
            if var certificate = object["certificate"]?.objectValue, let directory = certificateDirectory {
                // The files hold the PEM; the JSON says where they are.
                certificate["key"] = .string("\(directory)/\(name).key")
                certificate["certificate"] = .string("\(directory)/\(name).crt")
                certificate["ca"] = .string("\(directory)/ca.crt")
                object["certificate"] = .object(certificate)
            }
            print(JSONValue.object(object).compactText)
            return
        }
        print("application \(name), role \(Output.text(body["role"]))")
        print("MQTT user name: \(Output.text(body["mqtt"]?["username"]))")
        print(
            "MQTT password:  \(Output.text(body["mqtt"]?["password"]))   (shown once; hubctl apps rotate \(name) makes a new one)"
        )
        if let id = body["aws"]?["accessKeyId"]?.stringValue, let secret = body["aws"]?["secretAccessKey"]?.stringValue
        {
            print("aws_access_key_id:     \(id)")
            print("aws_secret_access_key: \(secret)   (shown once; hubctl apps rotate \(name) makes a new pair)")
            print("")
            print("For the AWS CLI, in ~/.aws/credentials:")
            print("  [\(name)]")
            print("  aws_access_key_id = \(id)")
            print("  aws_secret_access_key = \(secret)")
            print("and then: aws --profile \(name) --region us-east-1 iot-data get-thing-shadow \\")
            print("    --endpoint-url https://HUB:8443 --ca-bundle homehub-ca.crt --thing-name THING out.json")
            print("(homehub-ca.crt: hubctl ca --out homehub-ca.crt)")
        }
        if let certificate = body["certificate"], let directory = certificateDirectory {
            print(
                "certificate: \(directory)/\(name).crt, key: \(directory)/\(name).key (0600), CA: \(directory)/ca.crt; CN \(Output.text(certificate["commonName"])), TLS port \(Output.text(certificate["tlsPort"]))"
            )
        }
    }
}

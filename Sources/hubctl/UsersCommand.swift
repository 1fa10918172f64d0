import ArgumentParser
import HubCore

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// `hubctl users`: household members who sign in to the dashboard (docs/dashboard.md).
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Household members who sign in to the dashboard.",
        subcommands: [Add.self, List.self, Passwd.self, Remove.self])

    /// The password: from standard input with --password-stdin, asked for on a terminal (twice,
    /// not echoed), otherwise nil (the hub generates one and it is printed once).
    static func password(fromStandardInput: Bool) throws -> String? {
        if fromStandardInput {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("--password-stdin: no password on standard input")
            }
            return line
        }
        guard isatty(0) == 1 else { return nil }
        let first = try ask("New password (empty: generate one): ")
        if first.isEmpty { return nil }
        guard try ask("Again: ") == first else { throw ValidationError("the two passwords differ") }
        return first
    }

    static func ask(_ prompt: String) throws -> String {
        print(prompt, terminator: "")
        fflush(stdout)
        var saved = termios()
        tcgetattr(0, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSANOW, &silent)
        defer {
            tcsetattr(0, TCSANOW, &saved)
            print("")
        }
        return readLine(strippingNewline: true) ?? ""
    }

    static func show(_ body: JSONValue, json: Bool, verb: String) {
        if json {
            print(body.compactText)
            return
        }
        print("\(verb) \(Output.text(body["name"])) (role \(Output.text(body["role"])))")
        if let password = body["password"]?.stringValue {
            print("password: \(password)")
            print("(shown once; the hub keeps only a scrypt hash. Sign in at https://HUB:8443/)")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add a household member (asks for a password, or generates one).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Their name (1–64 of a-z A-Z 0-9 _ -).") var name: String
        @Option(name: .long, help: "read, write or sensitive (sensitive may unlock).") var role: String
        @Flag(name: .long, help: "Read the password from standard input.") var passwordStdin = false

        func validate() throws {
            guard Permission(rawValue: role) != nil else {
                throw ValidationError("--role must be read, write or sensitive (got '\(role)')")
            }
        }

        func run() async throws {
            var request: JSONObject = ["name": .string(name), "role": .string(role)]
            if let password = try UsersCommand.password(fromStandardInput: passwordStdin) {
                request["password"] = .string(password)
            }
            let body = try await global.call("POST", "/v1/users", body: .object(request))
            UsersCommand.show(body, json: global.json, verb: "added")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List household members.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let body = try await global.call("GET", "/v1/users")
            if global.json {
                print(body.compactText)
                return
            }
            Output.table(
                ["NAME", "ROLE", "ADDED", "PASSWORD CHANGED"],
                (body["users"]?.arrayValue ?? []).map {
                    [
                        Output.text($0["name"]), Output.text($0["role"]), Output.time($0["createdAt"]),
                        Output.time($0["passwordChangedAt"]),
                    ]
                })
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "passwd", abstract: "Set a member's password (and role); ends their sessions.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        @Option(name: .long, help: "A new role too.") var role: String?
        @Flag(name: .long, help: "Read the password from standard input.") var passwordStdin = false

        func run() async throws {
            var request: JSONObject = [:]
            if let role { request["role"] = .string(role) }
            if let password = try UsersCommand.password(fromStandardInput: passwordStdin) {
                request["password"] = .string(password)
            }
            let body = try await global.call("POST", "/v1/users/\(name)/password", body: .object(request))
            UsersCommand.show(body, json: global.json, verb: "changed")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove", abstract: "Remove a member; their sessions end at once.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let body = try await global.call("DELETE", "/v1/users/\(name)")
            print(global.json ? body.compactText : "removed \(name)")
        }
    }
}

import ArgumentParser
import HubClient
import HubCore

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// Options shared by `cmd`, `lock` and `unlock`.
struct CommandOptions: ParsableArguments {
    @Option(name: .long, help: "Seconds the command may wait for delivery before it EXPIRES (default 60).") var ttl:
        Double?
    @Option(name: .long, help: "Seconds the command may run (default: the device type's).") var timeout: Double?
    @Option(name: .long, help: "A key that makes a repeated request return the first command instead of running again.")
    var idempotencyKey: String?
    @Flag(name: .long, help: "Follow the command to its end; exit 0 only on SUCCEEDED.") var wait = false
}

/// Final states and hubctl's exit status for each (documented in --help).
enum CommandExit {
    static func status(for state: String) -> Int32 {
        switch state {
        case "SUCCEEDED": return 0
        case "FAILED": return 10
        case "TIMED_OUT": return 11
        case "EXPIRED": return 12
        case "REJECTED": return 13
        case "CANCELED": return 14
        default: return 1
        }
    }

    static let finalStates: Set<String> = ["SUCCEEDED", "FAILED", "TIMED_OUT", "EXPIRED", "REJECTED", "CANCELED"]
}

enum CommandRunner {
    /// Creates the command and, with --wait, follows it live to its final state.
    static func run(
        _ global: GlobalOptions, thing: String, name: String, parameters: JSONObject, options: CommandOptions
    ) async throws {
        var request: JSONObject = ["command": .string(name), "parameters": .object(parameters)]
        if let ttl = options.ttl { request["ttlSeconds"] = .number(JSONNumber(ttl)) }
        if let timeout = options.timeout { request["timeoutSeconds"] = .number(JSONNumber(timeout)) }
        if let key = options.idempotencyKey { request["idempotencyKey"] = .string(key) }
        guard options.wait else {
            let command = try await global.call("POST", "/v1/things/\(thing)/commands", body: .object(request))
            if global.json {
                print(command.compactText)
            } else {
                print("\(Output.text(command["id"]))  \(name) \(thing): \(Output.text(command["state"]))")
            }
            let state = command["state"]?.stringValue ?? ""
            if CommandExit.finalStates.contains(state) && state != "SUCCEEDED" {
                throw ExitCode(CommandExit.status(for: state))
            }
            return
        }
        // Subscribe first, so that no change between the request and the stream is missed.
        let follower = Follower(json: global.json)
        let client = global.client
        let stream = Task {
            // A stream that cannot start (no connection, no permission) ends the wait for it: the
            // request below then fails with the hub's own answer.
            defer { Task { await follower.subscribed() } }
            try await client.stream("/v1/events?thing=\(thing)", onHead: { _ in await follower.subscribed() }) { line in
                guard line.hasPrefix("data: "), let event = try? JSONParser().parse(String(line.dropFirst(6))),
                    event["type"] == "command.updated"
                else { return }
                await follower.event(event)
            }
        }
        await follower.waitUntilSubscribed()
        let command: JSONValue
        do {
            command = try await global.call("POST", "/v1/things/\(thing)/commands", body: .object(request))
        } catch {
            stream.cancel()
            throw error
        }
        let id = command["id"]?.stringValue ?? ""
        if !global.json { print("\(id)  \(name) \(thing)") }
        await follower.follow(id, current: command)
        // The command may have ended before we looked: the ledger has the truth.
        let final = await follower.waitForEnd(orPoll: {
            (try? await client.request("GET", "/v1/commands/\(id)"))?.json
        })
        stream.cancel()
        await follower.finishLine()
        let state = final["state"]?.stringValue ?? "UNKNOWN"
        if global.json {
            print(final.compactText)
        } else {
            var summary = "\(state)"
            if let message = final["message"]?.stringValue { summary += ": \(message)" }
            if state != "SUCCEEDED",
                let reason =
                    (final["transitions"]?.arrayValue?.last?["reason"]?.stringValue ?? final["reason"]?.stringValue)
            {
                summary += " (\(reason))"
            }
            print(summary)
        }
        throw ExitCode(CommandExit.status(for: state))
    }
}

/// Follows one command's events: a progress bar on a terminal, a line per change otherwise.
actor Follower {
    let json: Bool
    let terminal = isatty(1) == 1
    var id: String?
    var buffered: [JSONValue] = []
    var last: JSONValue?
    var isSubscribed = false
    var subscribers: [CheckedContinuation<Void, Never>] = []
    var finished: CheckedContinuation<JSONValue, Never>?
    var barShown = false

    init(json: Bool) { self.json = json }

    func subscribed() {
        isSubscribed = true
        for waiter in subscribers { waiter.resume() }
        subscribers = []
    }

    func waitUntilSubscribed() async {
        if isSubscribed { return }
        await withCheckedContinuation { subscribers.append($0) }
    }

    func follow(_ id: String, current: JSONValue) {
        self.id = id
        last = current
        for event in buffered where event["id"]?.stringValue == id { show(event) }
        buffered = []
    }

    func event(_ event: JSONValue) {
        guard let id else {
            buffered.append(event)
            return
        }
        guard event["id"]?.stringValue == id else { return }
        show(event)
    }

    func show(_ event: JSONValue) {
        last = event
        let state = event["state"]?.stringValue ?? ""
        if !json {
            let percent = event["progress"]?.numberValue?.doubleValue
            let message = event["message"]?.stringValue ?? ""
            if terminal && state == "RUNNING" {
                let filled = Int(((percent ?? 0) / 100 * 30).rounded())
                let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: max(0, 30 - filled))
                print("\r\(bar) \(Int(percent ?? 0))% \(message)\u{1B}[K", terminator: "")
                fflush(stdout)
                barShown = true
            } else {
                finishLine()
                print("\(state)\(percent.map { " \(Int($0))%" } ?? "")\(message.isEmpty ? "" : " \(message)")")
            }
        }
        if CommandExit.finalStates.contains(state), let finished {
            self.finished = nil
            finished.resume(returning: event)
        }
    }

    func finishLine() {
        if barShown {
            print("")
            barShown = false
        }
    }

    /// The final event, or — when the command had ended before the stream saw it — the ledger's record.
    func waitForEnd(orPoll poll: @Sendable () async -> JSONValue?) async -> JSONValue {
        if let last, CommandExit.finalStates.contains(last["state"]?.stringValue ?? "") {
            // The ledger's record has the details; a state is final once seen, whatever a read says.
            if let polled = await poll(), polled["state"] == last["state"] { return polled }
            return last
        }
        if let polled = await poll(), CommandExit.finalStates.contains(polled["state"]?.stringValue ?? "") {
            return polled
        }
        let event = await withCheckedContinuation { finished = $0 }
        if let polled = await poll(), polled["state"] == event["state"] { return polled }
        return event
    }
}

struct CmdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmd", abstract: "Run a command on a thing (e.g. hubctl cmd blind move position=30 --wait).",
        discussion: "With --wait: exit 0 on SUCCEEDED, 10 FAILED, 11 TIMED_OUT, 12 EXPIRED, 13 REJECTED, 14 CANCELED.")
    @OptionGroup var global: GlobalOptions
    @Argument var thing: String
    @Argument var name: String
    @Argument(help: "Parameters as key=value.") var parameters: [String] = []
    @OptionGroup var options: CommandOptions

    func run() async throws {
        let parsed: JSONObject
        do {
            parsed = try Assignments.parse(parameters)
        } catch {
            throw ValidationError(error.description)
        }
        try await CommandRunner.run(global, thing: thing, name: name, parameters: parsed, options: options)
    }
}

struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock", abstract: "Unlock a door lock (a sensitive command: needs the sensitive group).")
    @OptionGroup var global: GlobalOptions
    @Argument var thing: String
    @OptionGroup var options: CommandOptions

    func run() async throws {
        try await CommandRunner.run(global, thing: thing, name: "unlock", parameters: [:], options: options)
    }
}

struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lock", abstract: "Lock a door lock.")
    @OptionGroup var global: GlobalOptions
    @Argument var thing: String
    @OptionGroup var options: CommandOptions

    func run() async throws {
        try await CommandRunner.run(global, thing: thing, name: "lock", parameters: [:], options: options)
    }
}

struct CommandsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commands", abstract: "The command ledger: list, show and cancel commands.",
        subcommands: [List.self, Show.self, Cancel.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Recent commands, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long) var thing: String?
        @Option(
            name: .long, help: "QUEUED, SENT, RUNNING, SUCCEEDED, FAILED, TIMED_OUT, EXPIRED, REJECTED or CANCELED.")
        var state: String?
        @Option(name: .shortAndLong) var limit = 50

        func run() async throws {
            var path = "/v1/commands?limit=\(limit)"
            if let thing { path += "&thing=\(thing)" }
            if let state { path += "&state=\(state)" }
            let body = try await global.call("GET", path)
            if global.json {
                print(body.compactText)
                return
            }
            Output.table(
                ["ID", "THING", "COMMAND", "STATE", "CREATED", "BY", "MESSAGE"],
                (body["commands"]?.arrayValue ?? []).map { command in
                    let created = command["createdAt"]?.numberValue?.exactInteger.map { JSONValue.integer($0 / 1000) }
                    return [
                        Output.text(command["id"]), Output.text(command["thing"]), Output.text(command["command"]),
                        Output.text(command["state"]), Output.time(created),
                        Output.text(command["requester"]?["user"] ?? "-"),
                        Output.text(command["message"] ?? ""),
                    ]
                })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "A command with its history.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let command = try await global.call("GET", "/v1/commands/\(id)")
            if global.json {
                print(command.compactText)
                return
            }
            print(
                "\(id)  \(Output.text(command["command"])) \(Output.text(command["thing"]))  \(Output.text(command["state"]))"
            )
            print(
                "requested by \(Output.text(command["requester"]?["user"] ?? "-"))  parameters \(Output.text(command["parameters"]))"
            )
            if let message = command["message"], message != .null { print("message: \(Output.text(message))") }
            if let result = command["result"], result != .null { print("result: \(result.compactText)") }
            Output.table(
                ["TIME", "STATE", "REASON"],
                (command["transitions"]?.arrayValue ?? []).map { step in
                    let at = step["at"]?.numberValue?.exactInteger ?? 0
                    return [
                        Output.time(.integer(at / 1000)) + milliseconds(at % 1000), Output.text(step["state"]),
                        Output.text(step["reason"]),
                    ]
                })
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cancel", abstract: "Cancel a command that has not ended.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let command = try await global.call("POST", "/v1/commands/\(id)/cancel")
            print(global.json ? command.compactText : "\(id): \(Output.text(command["state"]))")
        }
    }
}

/// `.042` for 42 ms.
func milliseconds(_ value: Int64) -> String {
    let text = String(value)
    return "." + String(repeating: "0", count: max(0, 3 - text.count)) + text
}

import ArgumentParser
import HubCore
import HubProcess

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Weekly programs, cron and one-shot schedules (docs/schedules.md).",
        subcommands: [
            List.self, Add.self, Show.self, Next.self, Remove.self, Enable.self, Disable.self, Resume.self,
        ], defaultSubcommand: List.self)

    static func path(_ id: String, _ rest: String = "") -> String { "/v1/schedules/\(percentEncoded(id))\(rest)" }

    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            let character = Character(Unicode.Scalar(byte))
            if character.isASCII && (character.isLetter || character.isNumber || "-_.~:".contains(character)) {
                result.append(character)
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }

    /// The trigger as one short cell.
    static func trigger(_ schedule: JSONValue) -> String {
        if let program = schedule["program"]?.stringValue {
            let entries = program.split(whereSeparator: { $0 == ";" || $0 == "\n" }).filter {
                !$0.allSatisfy(\.isWhitespace)
            }
            return "program (\(entries.count) entries)"
        }
        if let cron = schedule["cron"]?.stringValue { return "cron \(cron)" }
        return "at \(Output.text(schedule["at"]))"
    }

    static func action(_ schedule: JSONValue) -> String {
        if let command = schedule["command"]?.stringValue {
            let parameters = Output.flatten(schedule["parameters"]).map { "\($0)=\(Output.text($1))" }
            return "command \(([command] + parameters).joined(separator: " "))"
        }
        if let desired = schedule["desired"] {
            return Output.flatten(desired).map { "\($0)=\(Output.text($1))" }.joined(separator: " ")
        }
        return "program values"
    }

    /// `Sun 2027-03-28 03:00 +02:00`.
    static func when(_ firing: JSONValue?) -> String {
        guard let firing, let at = firing["at"]?.stringValue, at.count >= 25 else { return "-" }
        let date = at.prefix(10)
        let clock = at.dropFirst(11).prefix(5)
        let offset = at.suffix(6)
        return "\(Output.text(firing["weekday"])) \(date) \(clock) \(offset)"
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List schedules.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let body = try await global.call("GET", "/v1/schedules")
            if global.json {
                print(body.compactText)
                return
            }
            let schedules = body["schedules"]?.arrayValue ?? []
            if schedules.isEmpty {
                print("no schedules (hubctl schedule add THING --program '…'; see docs/schedules.md)")
                return
            }
            Output.table(
                ["ID", "THING", "TRIGGER", "STATE", "NEXT", "ZONE"],
                schedules.map { schedule in
                    [
                        Output.text(schedule["id"]), Output.text(schedule["thing"]), ScheduleCommand.trigger(schedule),
                        Output.text(schedule["state"]), ScheduleCommand.when(schedule["next"]),
                        Output.text(schedule["zone"]),
                    ]
                })
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add a schedule (replace one with --replace).",
            discussion: """
                A heater's week in one command:
                  hubctl schedule add livingroom --program 'weekdays 06:30 targetTemperature=21; weekdays 08:00 targetTemperature=17; weekdays 17:30 targetTemperature=21; weekdays 22:30 targetTemperature=16; weekends 08:00 targetTemperature=21; weekends 23:00 targetTemperature=16'
                A cron schedule that sets values, and one that issues a command:
                  hubctl schedule add hallway --cron '0 23 * * *' on=false
                  hubctl schedule add frontdoor --id lock-at-night --cron '30 22 * * *' --command lock
                Once, at a local date-time:
                  hubctl schedule add livingroom --at 2026-12-24T15:00 targetTemperature=22
                The id is --id, else the thing's name (then THING-2, …). Times are local to --zone, \
                else the hub's time zone.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The thing whose shadow the schedule changes.") var thing: String
        @Argument(help: "For --cron and --at: values as key=value (or the command's parameters).")
        var values: [String] = []
        @Option(name: .long, help: "The schedule's id (1–48 of a-z A-Z 0-9 - _).") var id: String?
        @Option(name: .long, help: "A weekly program: 'DAYS HH:MM key=value…; …'.") var program: String?
        @Option(name: .long, help: "A file holding a weekly program, one entry per line ('-': stdin).")
        var programFile: String?
        @Option(name: .long, help: "A 5-field cron expression: minute hour day-of-month month day-of-week.")
        var cron: String?
        @Option(name: .long, help: "Once, at a local date-time (YYYY-MM-DDTHH:MM).") var at: String?
        @Option(name: .long, help: "Issue this command instead of setting values.") var command: String?
        @Option(name: .long, help: "The named shadow (default: the device type's, as hubctl set).") var shadow: String?
        @Option(name: .long, help: "IANA time zone, e.g. Europe/Berlin (default: the hub's).") var zone: String?
        @Option(name: .long, help: "After downtime: none or latest (programs default to latest).") var catchUp: String?
        @Option(name: .long, help: "A manual change holds a program: next-transition (default), indefinite, or 2h.")
        var hold: String?
        @Flag(name: .long, help: "Add it disabled.") var disabled = false
        @Flag(name: .long, help: "Replace a schedule with the same id.") var replace = false

        func validate() throws {
            let triggers = [program, programFile, cron, at].compactMap { $0 }
            if triggers.count != 1 { throw ValidationError("give one of --program, --program-file, --cron or --at") }
            if (program != nil || programFile != nil) && (!values.isEmpty || command != nil) {
                throw ValidationError(
                    "a program's entries carry their values; key=value and --command are for --cron and --at")
            }
            if replace && id == nil { throw ValidationError("--replace needs --id") }
        }

        func run() async throws {
            var request: JSONObject = ["thing": .string(thing)]
            if let id { request["id"] = .string(id) }
            if let program { request["program"] = .string(program) }
            if let programFile {
                guard let text = FileContents.text(programFile) else {
                    throw Output.fail("cannot read the program file \(programFile)", code: .usage)
                }
                // Lines starting with '#' are comments.
                request["program"] = .string(
                    text.split(separator: "\n").filter { !$0.trimmingPrefix(while: \.isWhitespace).hasPrefix("#") }
                        .joined(separator: "\n"))
            }
            if let cron { request["cron"] = .string(cron) }
            if let at { request["at"] = .string(at) }
            let parsed: JSONObject
            do {
                parsed = try Assignments.parse(values)
            } catch {
                throw ValidationError(error.description)
            }
            if let command {
                request["command"] = .string(command)
                request["parameters"] = .object(parsed)
            } else if !parsed.isEmpty {
                request["desired"] = .object(parsed)
            }
            if let shadow { request["shadow"] = .string(shadow) }
            if let zone { request["timeZone"] = .string(zone) }
            if let catchUp { request["catchUp"] = .string(catchUp) }
            if let hold { request["hold"] = .string(hold) }
            if disabled { request["enabled"] = false }
            let body =
                replace
                ? try await global.call("PUT", ScheduleCommand.path(id ?? ""), body: .object(request))
                : try await global.call("POST", "/v1/schedules", body: .object(request))
            if global.json {
                print(body.compactText)
                return
            }
            print(
                "schedule \(Output.text(body["id"])) \(replace ? "replaced" : "added") for \(thing) (\(Output.text(body["zone"])))"
            )
            if let inForce = body["inForce"], inForce != .null {
                print(
                    "in force now: \(Output.flatten(inForce).map { "\($0)=\(Output.text($1))" }.joined(separator: " "))"
                )
            }
            print("next: \(ScheduleCommand.when(body["next"]))")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Show a schedule: definition, hold, next firings, recent runs.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let schedule = try await global.call("GET", ScheduleCommand.path(id))
            let next = try await global.call("GET", ScheduleCommand.path(id, "/next?count=5"))
            if global.json {
                var object = schedule.objectValue ?? [:]
                object["nextFirings"] = next["firings"] ?? .null
                print(JSONValue.object(object).compactText)
                return
            }
            print(
                "\(id)  thing: \(Output.text(schedule["thing"]))\(schedule["shadow"].map { " (shadow \(Output.text($0)))" } ?? "")  zone: \(Output.text(schedule["zone"]))  \(Output.text(schedule["state"]))"
            )
            if let program = schedule["program"]?.stringValue {
                print("program:")
                for entry in program.split(whereSeparator: { $0 == ";" || $0 == "\n" })
                where !entry.allSatisfy(\.isWhitespace) {
                    print("  \(entry.trimmingPrefix(while: \.isWhitespace))")
                }
                print(
                    "catch-up: \(Output.text(schedule["catchUp"]))  hold on manual change: \(Output.text(schedule["hold"]))"
                )
            } else {
                print(
                    "\(ScheduleCommand.trigger(schedule)): \(ScheduleCommand.action(schedule))  catch-up: \(Output.text(schedule["catchUp"]))"
                )
            }
            if let inForce = schedule["inForce"] {
                print(
                    "in force now: \(Output.flatten(inForce).map { "\($0)=\(Output.text($1))" }.joined(separator: " "))"
                )
            }
            if let held = schedule["held"] {
                let attributes = (held["attributes"]?.arrayValue ?? []).map(Output.text).joined(separator: ", ")
                let until = held["until"]?.stringValue ?? "resumed (hubctl schedule resume \(id))"
                print("held: \(attributes) since \(Output.text(held["since"])), until \(until)")
            }
            print("")
            print("next firings:")
            NextFirings.print(next["firings"]?.arrayValue ?? [])
            print("")
            let runs = schedule["runs"]?.arrayValue ?? []
            print("recent runs:")
            if runs.isEmpty {
                print("  (none yet)")
                return
            }
            Output.table(
                ["HANDLED", "KIND", "FIRING", "OUTCOME", "DETAIL"],
                runs.map { run in
                    var detail: [String] = []
                    if let missed = run["missed"] { detail.append("missed \(Output.text(missed))") }
                    if let applied = run["applied"] {
                        detail.append(Output.flatten(applied).map { "\($0)=\(Output.text($1))" }.joined(separator: " "))
                    }
                    if let command = run["command"] {
                        detail.append("\(Output.text(command)) \(Output.text(run["commandState"]))")
                    }
                    if let held = run["held"] {
                        detail.append("held: \((held.arrayValue ?? []).map(Output.text).joined(separator: ","))")
                    }
                    if let error = run["error"] { detail.append(Output.text(error)) }
                    return [
                        Output.time(run["time"]), Output.text(run["kind"]),
                        ScheduleCommand.when(run["at"] != nil ? run : nil),
                        Output.text(run["outcome"]), detail.joined(separator: "; "),
                    ]
                })
        }
    }

    struct Next: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "next", abstract: "List the coming firings in local time, with DST adjustments marked.",
            discussion: """
                Example: hubctl schedule next livingroom --from 2027-03-27 --count 6
                --from is ISO 8601: a date, or a date and time, local to the schedule's zone unless it \
                ends in Z or an offset (+01:00). Firings at that very instant are included.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument var id: String
        @Option(name: .long, help: "How many firings (1–1000).") var count = 10
        @Option(name: .long, help: "Start here instead of now (ISO 8601).") var from: String?

        func run() async throws {
            var query = "?count=\(count)"
            if let from { query += "&from=\(ScheduleCommand.percentEncoded(from))" }
            let body = try await global.call("GET", ScheduleCommand.path(id, "/next" + query))
            if global.json {
                print(body.compactText)
                return
            }
            print("\(id)  zone \(Output.text(body["zone"]))  from \(Output.text(body["from"]))")
            NextFirings.print(body["firings"]?.arrayValue ?? [])
        }
    }

    enum NextFirings {
        static func print(_ firings: [JSONValue]) {
            if firings.isEmpty {
                Swift.print("  (none: a one-shot that has fired, or disabled)")
                return
            }
            Output.table(
                ["LOCAL TIME", "UTC", "ACTION", "DST"],
                firings.map { firing in
                    var action = ""
                    if let set = firing["set"] {
                        action = Output.flatten(set).map { "\($0)=\(Output.text($1))" }.joined(separator: " ")
                    } else if let command = firing["command"] {
                        action = "command \(Output.text(command))"
                    }
                    return [
                        ScheduleCommand.when(firing), Output.text(firing["utc"]), action,
                        firing["note"].map { "* \(Output.text($0))" } ?? "",
                    ]
                })
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a schedule and its runs.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let body = try await global.call("DELETE", ScheduleCommand.path(id))
            print(global.json ? body.compactText : "removed schedule \(id)")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enable", abstract: "Enable a schedule (a program applies what is in force now).")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let body = try await global.call("POST", ScheduleCommand.path(id, "/enable"))
            print(
                global.json ? body.compactText : "schedule \(id) enabled; next: \(ScheduleCommand.when(body["next"]))")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "disable", abstract: "Disable a schedule.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let body = try await global.call("POST", ScheduleCommand.path(id, "/disable"))
            print(global.json ? body.compactText : "schedule \(id) disabled")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "resume", abstract: "End a hold: the program's values in force now come back.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let body = try await global.call("POST", ScheduleCommand.path(id, "/resume"))
            if global.json {
                print(body.compactText)
                return
            }
            let inForce = body["inForce"].map {
                Output.flatten($0).map { "\($0)=\(Output.text($1))" }.joined(separator: " ")
            }
            print("schedule \(id) follows its program again\(inForce.map { ": \($0)" } ?? "")")
        }
    }
}

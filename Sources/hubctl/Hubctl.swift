import ArgumentParser
import HubProcess

@main
enum Main {
    /// `hubctl --socket S status` works as well as `hubctl status --socket S`: global options
    /// given before the subcommand are moved behind it, where the subcommands read them.
    static func main() async {
        QuietDispatch.atStart()
        var arguments = Array(CommandLine.arguments.dropFirst())
        var global: [String] = []
        while let first = arguments.first {
            if first == "--json" || first.hasPrefix("--socket=") {
                global.append(arguments.removeFirst())
            } else if first == "--socket", arguments.count > 1 {
                global += arguments.prefix(2)
                arguments.removeFirst(2)
            } else {
                break
            }
        }
        await Hubctl.main(arguments + global)
    }
}

struct Hubctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hubctl",
        abstract: "Drive a homehub hub over its control socket.",
        discussion: """
            The socket is --socket, else $HUBCTL_SOCKET, else ./run/hubctl.sock when it exists (a hub \
            started with `make run` in this directory), else /run/homehub/hubctl.sock.

            Values are typed as JSON when they parse as JSON: 21 is a number, true a boolean, \
            '"21"' the string "21"; anything else is a string. Dots in keys nest: lights.color=red.

            Exit status: 0 success; 1 the hub rejected the request; 2 the hub failed (5xx); \
            3 cannot connect to the hub; 4 permission denied; 5 not found; 6 timed out; 64 usage error. \
            With --wait, a command that ends other than SUCCEEDED exits 10 FAILED, 11 TIMED_OUT, 12 EXPIRED, \
            13 REJECTED, 14 CANCELED.
            """,
        subcommands: [
            StatusCommand.self, ThingsCommand.self, ShadowCommand.self, SetCommand.self, WatchCommand.self,
            PluginsCommand.self,
            AuditCommand.self, AppsCommand.self, UsersCommand.self, CACommand.self, CloudCommand.self, CmdCommand.self,
            UnlockCommand.self,
            LockCommand.self,
            CommandsCommand.self,
            ScheduleCommand.self,
        ]
    )
}

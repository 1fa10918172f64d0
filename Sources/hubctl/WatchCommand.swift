import ArgumentParser
import HubCore

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Follow live events (shadow changes, connectivity, commands).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only this thing's events.") var thing: String?

    func run() async throws {
        let path = "/v1/events" + (thing.map { "?thing=\($0)" } ?? "")
        do {
            try await global.client.stream(
                path,
                onHead: { status in
                    guard status == 200 else {
                        throw Output.fail("the hub answered \(status) to \(path)", code: ExitStatus(httpStatus: status))
                    }
                },
                onLine: { line in
                    guard line.hasPrefix("data: "), let event = try? JSONParser().parse(String(line.dropFirst(6)))
                    else {
                        return
                    }
                    if global.json {
                        print(event.compactText)
                    } else {
                        let target = Output.text(event["thing"]) + (event["shadow"]?.stringValue.map { "/\($0)" } ?? "")
                        var detail = ""
                        if let version = event["version"], version != .null { detail += "v\(Output.text(version)) " }
                        if let state = event["state"], state != .null { detail += state.compactText }
                        print(
                            "\(Output.time(event["time"] ?? .integer(Int64(time(nil)))))  \(Output.text(event["type"]))  \(target)  \(detail)"
                        )
                    }
                    fflush(stdout)
                })
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw Output.fail("\(error)", code: .cannotConnect)
        }
    }
}

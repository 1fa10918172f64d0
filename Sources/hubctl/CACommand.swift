import ArgumentParser
import HubClient
import HubCore
import HubProcess

#if canImport(Glibc)
    import Glibc
#endif

/// `hubctl ca`: the hub's CA certificate, which HTTPS clients (the AWS CLI's `--ca-bundle`,
/// boto3's `verify=`, a phone) and devices trust. Readable by every member of `homehub`, while
/// the hub's data directory is not.
struct CACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "Print the hub's CA certificate (PEM), or write it to a file with --out.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Write it to this file (0644) instead of printing it.") var out: String?

    func run() async throws {
        let response: ControlClient.Response
        do {
            response = try await global.client.request("GET", "/v1/ca")
        } catch {
            throw Output.fail("\(error)", code: .cannotConnect)
        }
        guard response.status == 200 else {
            throw Output.fail(response.message, code: ExitStatus(httpStatus: response.status))
        }
        let pem = String(decoding: response.body, as: UTF8.self)
        guard let out else {
            print(pem, terminator: "")
            return
        }
        guard FileContents.write(pem, to: out, mode: 0o644) else {
            throw Output.fail("cannot write \(out): \(String(cString: strerror(errno)))", code: .hubFailed)
        }
        print("wrote the hub's CA certificate to \(out)")
    }
}

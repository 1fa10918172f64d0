import HubDaemon
import HubProcess
import HubSystemd
import Logging
import Metrics
import Prometheus

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

// homehubd: builds the services from the configuration and runs them. Nothing else lives here.

QuietDispatch.atStart()

let usage = """
    usage: homehubd [--config FILE]        run the hub (default /etc/homehub/hub.toml)
           homehubd --check-config FILE    validate a configuration and exit
           homehubd --version

    """

func fail(_ message: String, status: Int32 = 1) -> Never {
    fputs("homehubd: \(message)\n", stderr)
    exit(status)
}

func loadConfiguration(_ path: String) -> HubConfiguration {
    guard let text = FileContents.text(path) else { fail("cannot read \(path): \(String(cString: strerror(errno)))") }
    do {
        return try HubConfiguration(toml: text, source: path)
    } catch {
        fail(error.message)
    }
}

signal(SIGPIPE, SIG_IGN)
var arguments = Array(CommandLine.arguments.dropFirst())
var configPath = "/etc/homehub/hub.toml"
while let argument = arguments.first {
    arguments.removeFirst()
    switch argument {
    case "--config", "-c":
        guard let path = arguments.first else { fail("--config needs a file\n\(usage)", status: 64) }
        configPath = path
        arguments.removeFirst()
    case "--check-config":
        guard let path = arguments.first else { fail("--check-config needs a file\n\(usage)", status: 64) }
        _ = loadConfiguration(path)
        print("\(path): configuration is valid")
        exit(0)
    case "--version":
        print("homehubd \(HubStatus.version)")
        exit(0)
    case "--help", "-h":
        print(usage, terminator: "")
        exit(0)
    default:
        fail("unknown argument '\(argument)'\n\(usage)", status: 64)
    }
}

let configuration = loadConfiguration(configPath)
let level = Logger.Level(rawValue: configuration.hub.logLevel) ?? .info
// Under systemd, structured records go to the journal; elsewhere, plain text on stderr.
let journal = JournalLogHandler.stderrIsJournal
LoggingSystem.bootstrap { label in
    if journal {
        var handler = JournalLogHandler(identifier: "homehubd")
        handler.logLevel = level
        return handler
    }
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = level
    return handler
}
let logger = Logger(label: "homehubd")
let metrics = PrometheusCollectorRegistry()
var factory = PrometheusMetricsFactory(registry: metrics)
factory.durationHistogramBuckets["homehub_shadow_commit_seconds"] = [
    .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
    .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
]
MetricsSystem.bootstrap(factory)
do {
    try await HubDaemon.run(configuration, logger: logger, metrics: metrics)
} catch {
    logger.critical("homehubd failed: \(error)")
    exit(1)
}

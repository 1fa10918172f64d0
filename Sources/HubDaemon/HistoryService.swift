import HubCore
import HubStore
import Logging
import ServiceLifecycle

/// Keeps the history of reported numbers the dashboard draws (docs/dashboard.md): for every
/// registered thing with a device type, each reported attribute the type declares a number or
/// an integer with a unit or a range, at most one sample per attribute per `sample_seconds`; samples older than
/// `retention_days` are dropped (checked hourly). Memory: one timestamp per such attribute.
/// Disk: about 50 bytes a sample, so a heater's two numbers at the defaults (60 s, 7 days) keep
/// about 20,000 rows, 1 MB.
struct HistoryService: Service {
    let configuration: HubConfiguration.History
    let store: HubStore
    let events: EventBus
    let registry: ThingRegistry
    let clock: any HubClock
    let logger: Logger

    func run() async throws {
        guard configuration.retentionDays > 0 else { return }
        try await runUntilGracefulShutdown { await record() }
    }

    func record() async {
        var lastSample: [String: Int64] = [:]
        var lastPrune: Int64 = 0
        while !Task.isCancelled {
            for await event in events.subscribe(thing: nil, watcher: false).events {
                guard event["type"]?.stringValue == "shadow.updated", let thing = event["thing"]?.stringValue,
                    let type = registry.deviceType(of: thing),
                    case .object(let reported)? = event["state"]?["reported"]
                else { continue }
                let shadow = event["shadow"]?.stringValue ?? ""
                let attributes = type.attributes(of: shadow) ?? [:]
                let now = clock.epochSeconds()
                var samples: [HistorySample] = []
                for (name, value) in reported {
                    // Measurements and settings: a number with a unit or a range (not a timestamp
                    // or a counter, which would only flatten the chart).
                    guard let schema = attributes[name], schema.kind == .number || schema.kind == .integer,
                        schema.unit != nil || (schema.minimum != nil && schema.maximum != nil),
                        let number = value.numberValue?.doubleValue
                    else { continue }
                    let key = "\(thing)\u{0}\(shadow)/\(name)"
                    if let last = lastSample[key], now - last < Int64(configuration.sampleSeconds) { continue }
                    lastSample[key] = now
                    samples.append(
                        HistorySample(thing: thing, attribute: "\(shadow)/\(name)", time: now, value: number))
                }
                store.enqueueHistory(samples)
                if now - lastPrune >= 3600 {
                    lastPrune = now
                    store.enqueueHistoryPrune(before: now - Int64(configuration.retentionDays) * 86400)
                }
            }
        }
    }
}

import HubCore
import HubMQTT
import Logging
import ServiceLifecycle

/// Publishes the shadow service's messages on the broker, QoS 1.
struct MQTTShadowPublisher: ShadowPublisher {
    let client: MQTTClient
    let logger: Logger

    func publish(_ topic: String, _ document: JSONValue) -> Bool {
        do {
            try client.publish(topic, payload: document.compactBytes, qos: 1)
            return true
        } catch {
            logger.warning("cannot publish", metadata: ["mqtt.topic": "\(topic)", "error": "\(error)"])
            return false
        }
    }
}

/// Connects to the broker, subscribes to the shadow request topics and feeds every request to
/// the shadow service, publishing the answers once the change is durable.
struct MQTTShadowService: Service {
    let client: MQTTClient
    let shadows: ShadowService
    let status: HubStatus
    let logger: Logger
    /// Command responses from MQTT devices (`cmd/THING/response`).
    let commandUpdates: @Sendable (CommandUpdate) -> Void

    func run() async throws {
        try await connectUntilUp()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    for await connected in client.connectionChanges {
                        status.brokerConnection(connected)
                        if connected {
                            let resent = await shadows.republishDeltas()
                            logger.notice(
                                "connected to the MQTT broker",
                                metadata: [
                                    "mqtt.endpoint": "\(client.options.endpoint)", "deltas.resent": "\(resent)",
                                ])
                        } else {
                            logger.warning(
                                "lost the MQTT broker; reconnecting",
                                metadata: ["mqtt.endpoint": "\(client.options.endpoint)"])
                        }
                    }
                }
                for filter in ShadowTopic.requestFilters + ["cmd/+/response"] {
                    try await client.subscribe(filter, qos: 1)
                }
                status.subscribed()
                logger.info("serving shadows", metadata: ["mqtt.filters": "\(ShadowTopic.requestFilters)"])
                for await message in client.messages {
                    if message.topic.hasPrefix("cmd/"), message.topic.hasSuffix("/response") {
                        let thing = String(message.topic.dropFirst(4).dropLast(9))
                        if let body = try? JSONParser().parse(message.payload),
                            let update = CommandUpdate(body, thing: thing)
                        {
                            commandUpdates(update)
                        } else {
                            logger.warning("unreadable command response", metadata: ["mqtt.topic": "\(message.topic)"])
                        }
                        continue
                    }
                    guard let topic = ShadowTopic(message.topic) else { continue }
                    guard let pending = await shadows.handleMQTT(topic, payload: message.payload) else { continue }
                    group.addTask {
                        let result = await pending.finish()
                        shadows.publish(result, of: pending, origin: .mqtt)
                    }
                }
            }
        } onGracefulShutdown: {
            // Stops the message stream; requests already taken finish and are answered first.
            client.close()
        }
    }

    /// The first connection: retried with backoff while the (embedded) broker starts.
    func connectUntilUp() async throws {
        var delay = 0.05
        while true {
            do {
                try await client.connect()
                status.brokerConnection(true)
                return
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { throw error }
                logger.info("waiting for the MQTT broker", metadata: ["reason": "\(error)"])
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 2)
            }
        }
    }
}

import AsyncAlgorithms
import HubCore
import HubMQTT
import Logging
import ServiceLifecycle

/// Publishes the shadow service's messages on the broker, QoS 1.
struct MQTTShadowPublisher: ShadowPublisher {
    let client: MQTTClient
    let logger: Logger

    func publish(_ topic: String, _ document: JSONValue) async -> Bool {
        do {
            try await client.publish(topic, payload: document.compactBytes, qos: 1)
            return true
        } catch {
            logger.warning("cannot publish", metadata: ["mqtt.topic": "\(topic)", "error": "\(error)"])
            return false
        }
    }
}

/// Connects to the broker, subscribes to the shadow request topics and hands every request to
/// the shadow service. The path of one update (docs/architecture.md): libmosquitto's callback →
/// ``MQTTClient/messages`` (bounded; a full buffer holds libmosquitto's thread, which stops
/// reading the socket) → ``ShadowService/submit(_:payload:origin:)`` in arrival order →
/// ``ShadowService/Submission/answer()`` on a child task: durable, then answered and fanned out.
struct MQTTShadowService: Service {
    /// Requests: the shadow and command-response subscriptions.
    let client: MQTTClient
    /// Answers, deltas and documents (never subscribes, so its network thread never waits).
    let outbound: MQTTClient
    let shadows: ShadowService
    let status: HubStatus
    let logger: Logger
    /// Command responses from MQTT devices (`cmd/THING/response`), to the ledger.
    let commandUpdates: AsyncChannel<CommandUpdate>
    /// Whether the broker stamps senders (the embedded broker with homehub's plugin).
    let stampExpected: Bool
    /// Requests whose write is still in flight; at the bound, the next message waits.
    var maxInFlight = 1024

    func run() async throws {
        try await connectUntilUp(outbound)
        try await connectUntilUp(client)
        status.brokerConnection(true)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await followInbound() }
                group.addTask { await followOutbound() }
                do {
                    // The broker plugin's refusals, which only the hub may read.
                    let filters =
                        ShadowTopic.requestFilters + ["cmd/+/response"] + (stampExpected ? [Self.deniedTopic] : [])
                    for filter in filters {
                        try await client.subscribe(filter, qos: 1)
                    }
                } catch {
                    logger.error("cannot subscribe to the shadow topics", metadata: ["error": "\(error)"])
                }
                status.subscribed()
                logger.info("serving shadows", metadata: ["mqtt.filters": "\(ShadowTopic.requestFilters)"])
                var inFlight = 0
                for await message in client.messages {
                    if message.topic == Self.deniedTopic, stampExpected {
                        brokerRefused(message)
                        continue
                    }
                    if let thing = Self.commandResponseThing(message.topic) {
                        await forwardCommandResponse(message, thing: thing)
                        continue
                    }
                    guard let topic = ShadowTopic(message.topic) else { continue }
                    let submission = await shadows.submit(
                        topic, payload: message.payload, origin: .mqtt, by: sender(of: message))
                    if inFlight >= maxInFlight {
                        await group.next()
                        inFlight -= 1
                    }
                    inFlight += 1
                    group.addTask { _ = await submission.answer() }
                }
                // The connection-following task ends with the client's streams.
            }
        } onGracefulShutdown: {
            // Stops the message stream; requests already taken finish and are answered first.
            client.close()
            outbound.close()
        }
    }

    /// The inbound connection is the hub's health: without it no request arrives.
    func followInbound() async {
        for await connected in client.connectionChanges {
            status.brokerConnection(connected)
            if connected {
                logger.notice("connected to the MQTT broker", metadata: ["mqtt.endpoint": "\(client.options.endpoint)"])
            } else {
                logger.warning(
                    "lost the MQTT broker; reconnecting", metadata: ["mqtt.endpoint": "\(client.options.endpoint)"])
            }
        }
    }

    /// At each (re)connection of the outbound connection, every stored delta is sent again.
    func followOutbound() async {
        for await connected in outbound.connectionChanges where connected {
            let dropped = outbound.takeDroppedCount()
            let resent = await shadows.republishDeltas()
            logger.info(
                "outbound MQTT connection up",
                metadata: ["deltas.resent": "\(resent)", "messages.dropped_while_away": "\(dropped)"])
        }
    }

    /// Who sent a message (``MQTTMessage/sender(stampExpected:)``).
    func sender(of message: MQTTMessage) -> Identity { message.sender(stampExpected: stampExpected) }

    /// Where homehub's broker plugin reports each PUBLISH it refused.
    static let deniedTopic = "$homehub/broker/denied"

    /// A refusal by the broker: logged, counted and audited like every other (docs/security.md).
    func brokerRefused(_ message: MQTTMessage) {
        // The broker's own messages carry no stamp; every client's does (and only the hub may
        // publish under $homehub/ at all).
        guard message.userProperty(Identity.brokerStampProperty) == nil,
            let report = try? JSONParser().parse(message.payload), let topic = report["topic"]?.stringValue
        else { return }
        let identity = report["identity"]?.stringValue.flatMap(Identity.init(brokerStamp:)) ?? .unidentified("unknown")
        var target = topic
        if let shadowTopic = ShadowTopic(topic) {
            target = AccessGate.target(ShadowID(unchecked: shadowTopic.thingName, shadowName: shadowTopic.shadowName))
        } else if let thing = Self.commandResponseThing(topic) {
            target = thing
        }
        var reason =
            "\(identity.phrase) may not publish to \(topic): \(report["reason"]?.stringValue ?? "refused") (the broker refused it)"
        if let suppressed = report["suppressed"]?.integerValue, suppressed > 0 {
            reason += "; \(suppressed) more refusals were not reported (over 50/s)"
        }
        shadows.access.refused(identity, path: "mqtt", action: "publish", target: target, reason: reason)
    }

    /// `cmd/THING/response` → THING.
    static func commandResponseThing(_ topic: String) -> String? {
        guard topic.hasPrefix("cmd/"), topic.hasSuffix("/response"), topic.count > 13 else { return nil }
        return String(topic.dropFirst(4).dropLast(9))
    }

    func forwardCommandResponse(_ message: MQTTMessage, thing: String) async {
        if let body = try? JSONParser().parse(message.payload), let update = CommandUpdate(body, thing: thing) {
            await commandUpdates.send(update)
        } else {
            logger.warning(
                "unreadable command response: needs {\"commandId\", \"status\"}",
                metadata: ["mqtt.topic": "\(message.topic)"])
        }
    }

    func connectUntilUp(_ client: MQTTClient) async throws { try await client.connectUntilUp(logger: logger) }
}

extension MQTTMessage {
    /// Who sent a message: the embedded broker's plugin stamps every client's message with the
    /// identity it authenticated; a message without the stamp (an external broker, a last will)
    /// is unidentified, and the access rules treat it so (docs/security.md).
    func sender(stampExpected: Bool) -> Identity {
        guard let stamp = userProperty(Identity.brokerStampProperty) else {
            return .unidentified(stampExpected ? "a message the broker did not stamp" : "an external broker")
        }
        return Identity(brokerStamp: stamp) ?? .unidentified("an unreadable stamp '\(stamp)'")
    }
}

extension MQTTClient {
    /// The first connection: retried with backoff while the (embedded) broker starts.
    func connectUntilUp(logger: Logger) async throws {
        var delay = 0.05
        while true {
            do {
                try await connect()
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

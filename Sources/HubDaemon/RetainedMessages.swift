public import HubCore
import HubMQTT
import Logging
import ServiceLifecycle
import Synchronization

/// The broker's retained messages, as AWS's GetRetainedMessage and ListRetainedMessages show
/// them. A connection of the hub's own subscribes to `#` with MQTT 5's retain-as-published, so it
/// sees each retained message when it subscribes (after every hub or broker start) and each new
/// one as it is published; an empty retained payload clears a topic.
///
/// Bound: 10,000 topics, payloads up to 128 KiB. A retained message beyond that is not kept here
/// (the broker still keeps it): counted and said once in the log. `lastModifiedTime` is when the
/// hub saw the message: after a restart, when it read it back from the broker.
public final class RetainedMessages: Sendable {
    struct Entry: Sendable {
        var payload: [UInt8]
        var qos: Int
        var lastModified: Int64
        var userProperties: [(String, String)]
    }

    public static let maxTopics = 10_000
    public static let maxPayloadBytes = 128 * 1024
    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    /// Records one received message; returns false when it was over a bound (the caller says so).
    @discardableResult
    func record(_ message: MQTTMessage, at milliseconds: Int64) -> Bool {
        guard message.retain, !message.topic.hasPrefix("$") else { return true }
        if message.payload.isEmpty {
            _ = entries.withLock { $0.removeValue(forKey: message.topic) }
            return true
        }
        return entries.withLock { entries -> Bool in
            guard message.payload.count <= Self.maxPayloadBytes,
                entries[message.topic] != nil || entries.count < Self.maxTopics
            else { return false }
            entries[message.topic] = Entry(
                payload: message.payload, qos: message.qos, lastModified: milliseconds,
                userProperties: message.userProperties.filter { $0.0 != Identity.brokerStampProperty })
            return true
        }
    }

    /// GetRetainedMessage's answer.
    public func message(_ topic: String) -> JSONValue? {
        guard let entry = entries.withLock({ $0[topic] }) else { return nil }
        var body: JSONObject = [
            "topic": .string(topic), "payload": .string(Base64.encode(entry.payload)),
            "qos": .integer(Int64(entry.qos)), "lastModifiedTime": .integer(entry.lastModified),
        ]
        if !entry.userProperties.isEmpty {
            let list = JSONValue.array(entry.userProperties.map { .object([$0.0: .string($0.1)]) })
            body["userProperties"] = .string(Base64.encode(list.compactBytes))
        }
        return .object(body)
    }

    /// ListRetainedMessages' page: topics in order; the token is the last topic of the page.
    public func list(maxResults: Int, after token: String?) -> JSONValue {
        let all = entries.withLock { entries in
            entries.map { (topic: $0.key, entry: $0.value) }.filter { token == nil || $0.topic > token! }
                .sorted { $0.topic < $1.topic }
        }
        let page = all.prefix(maxResults)
        var body: JSONObject = [
            "retainedTopics": .array(
                page.map {
                    [
                        "topic": .string($0.topic), "payloadSize": .integer(Int64($0.entry.payload.count)),
                        "qos": .integer(Int64($0.entry.qos)), "lastModifiedTime": .integer($0.entry.lastModified),
                    ]
                })
        ]
        if all.count > maxResults, let last = page.last { body["nextToken"] = .string(last.topic) }
        return .object(body)
    }
}

/// Follows the broker's retained messages on a connection of its own (so a flood of ordinary
/// traffic on `#` never delays a shadow request on the hub's main connection).
struct RetainedMessageService: Service {
    let client: MQTTClient
    let retained: RetainedMessages
    let clock: any HubClock
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            var delay = 0.05
            while !client.isConnected {
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                do {
                    try await client.connect()
                } catch {
                    try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                    delay = min(delay * 2, 2)
                }
            }
            do {
                try await client.subscribe("#", qos: 1, retainAsPublished: true)
            } catch {
                logger.error("cannot follow retained messages", metadata: ["error": "\(error)"])
            }
            var warned = false
            for await message in client.messages {
                if !retained.record(message, at: clock.epochMilliseconds()), !warned {
                    warned = true
                    logger.warning(
                        "a retained message is over the hub's bound (\(RetainedMessages.maxTopics) topics, \(RetainedMessages.maxPayloadBytes) bytes) and is not listed by GetRetainedMessage",
                        metadata: ["mqtt.topic": "\(message.topic)"])
                }
            }
        } onGracefulShutdown: {
            client.close()
        }
    }
}

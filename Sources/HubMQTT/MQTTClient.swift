internal import CMosquitto
import Dispatch
public import HubCore
public import HubProcess
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An MQTT client over libmosquitto.
///
/// libmosquitto's own thread runs the network loop (`mosquitto_loop_start`), so no socket work
/// happens on the Swift cooperative pool. Its callbacks are thin thunks that recover this object
/// from the user-data pointer and hand results over: messages through ``messages``, connection
/// changes through ``connectionChanges``, acknowledgements by resuming continuations. After a
/// lost connection libmosquitto reconnects with exponential backoff; every subscription is
/// renewed on each (re)connect.
public final class MQTTClient: Sendable {
    public let options: MQTTClientOptions
    /// Received messages. Bounded by ``MQTTClientOptions/inboxCapacity``: when it is full,
    /// libmosquitto's thread waits, stops reading the socket, and the broker holds the rest.
    public let messages: ThreadInbox<MQTTMessage>
    public let connectionChanges: AsyncStream<Bool>

    private struct State {
        var connected = false
        var closed = false
        /// libmosquitto's network thread runs (started by a connect that then failed, e.g. a
        /// broker that closed the connection before its CONNACK: a stale broker being stopped).
        var loopRunning = false
        /// Filter → QoS and MQTT 5 subscription options (renewed at each connection).
        var subscriptions: [String: (qos: Int32, options: Int32)] = [:]
        var pendingConnect: CheckedContinuation<Void, any Error>?
        var pendingAcknowledgements: [Int32: CheckedContinuation<Void, any Error>] = [:]
        /// QoS 1 publishes the broker has not acknowledged yet (their message ids).
        var unacknowledged: Set<Int32> = []
        /// Publishers waiting for room under ``MQTTClientOptions/maxUnacknowledged``.
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
        /// QoS 1 messages not queued because the broker was away and the window was full.
        var dropped = 0
    }

    // The handle is created in init and destroyed in close(); libmosquitto functions used on it
    // are thread-safe once the threaded loop runs (documented for publish/subscribe/disconnect).
    private nonisolated(unsafe) let handle: OpaquePointer
    private let state = Mutex(State())
    private let connectionContinuation: AsyncStream<Bool>.Continuation

    private static let libraryInitialised: Bool = {
        mosquitto_lib_init()
        return true
    }()

    public init(options: MQTTClientOptions) throws(MQTTError) {
        _ = Self.libraryInitialised
        self.options = options
        messages = ThreadInbox(capacity: options.inboxCapacity)
        (connectionChanges, connectionContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(16))
        guard let handle = mosquitto_new(options.clientID, options.cleanSession, nil) else {
            throw MQTTError(code: .init(rawValue: 1), message: "cannot create an MQTT client (out of memory?)")
        }
        self.handle = handle
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        mosquitto_connect_callback_set(handle, onConnect)
        mosquitto_disconnect_callback_set(handle, onDisconnect)
        if options.protocolVersion5 {
            mosquitto_message_v5_callback_set(handle, onMessageV5)
        } else {
            mosquitto_message_callback_set(handle, onMessage)
        }
        mosquitto_publish_callback_set(handle, onPublish)
        mosquitto_subscribe_callback_set(handle, onSubscribe)
        mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1)
        mosquitto_int_option(
            handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(options.protocolVersion5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311))
        mosquitto_max_inflight_messages_set(handle, 0)
        mosquitto_reconnect_delay_set(
            handle, UInt32(options.reconnectDelaySeconds), UInt32(options.maxReconnectDelaySeconds), true)
        try configure()
    }

    deinit {
        assert(state.withLock { $0.closed }, "MQTTClient \(options.clientID) was not closed")
    }

    private func configure() throws(MQTTError) {
        if let username = options.username {
            try check(mosquitto_username_pw_set(handle, username, options.password), "set the user name")
        }
        if let tls = options.tls {
            try check(mosquitto_tls_set(handle, tls.caFile, nil, tls.certFile, tls.keyFile, nil), "load TLS files")
        }
        if let will = options.will {
            try check(
                will.payload.withUnsafeBytes {
                    mosquitto_will_set(
                        handle, will.topic, Int32($0.count), $0.baseAddress, Int32(will.qos), will.retain)
                }, "set the last will")
        }
    }

    public var isConnected: Bool { state.withLock { $0.connected } }

    /// Connects, waiting for the broker's CONNACK, then starts the network loop. Fails at once
    /// when the broker refuses or cannot be reached; afterwards lost connections are retried.
    public func connect(timeoutSeconds: Int = 10) async throws {
        let endpoint = options.endpoint
        let keepAlive = Int32(options.keepAliveSeconds)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            state.withLock { $0.pendingConnect = continuation }
            // mosquitto_connect blocks on DNS and the TCP handshake: keep it off the cooperative pool.
            DispatchQueue.global().async { [self] in
                // A previous attempt's network thread is stopped first: a second one cannot start.
                if state.withLock({ $0.loopRunning }) {
                    mosquitto_disconnect(handle)
                    mosquitto_loop_stop(handle, false)
                    state.withLock { $0.loopRunning = false }
                }
                let status: Int32
                switch endpoint.kind {
                case .tcp(let host, let port): status = mosquitto_connect(handle, host, Int32(port), keepAlive)
                case .unixSocket(let path): status = mosquitto_connect(handle, path, 0, keepAlive)
                }
                let error = errno
                guard status == MOSQ_ERR_SUCCESS.rawValue else {
                    let reason =
                        status == MOSQ_ERR_ERRNO.rawValue
                        ? String(cString: strerror(error)) : String(cString: mosquitto_strerror(status))
                    failConnect(
                        MQTTError(
                            code: .init(rawValue: status),
                            message: "cannot connect to MQTT broker at \(endpoint): \(reason)"))
                    return
                }
                let loop = mosquitto_loop_start(handle)
                if loop == MOSQ_ERR_SUCCESS.rawValue { state.withLock { $0.loopRunning = true } }
                if loop != MOSQ_ERR_SUCCESS.rawValue {
                    failConnect(MQTTError(code: .init(rawValue: loop), message: "cannot start the MQTT network loop"))
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(timeoutSeconds)) { [self] in
                failConnect(
                    MQTTError(
                        code: .timedOut, message: "no answer from MQTT broker at \(endpoint) within \(timeoutSeconds) s"
                    ))
            }
        }
    }

    private func failConnect(_ error: MQTTError) {
        let pending = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            defer { state.pendingConnect = nil }
            return state.pendingConnect
        }
        pending?.resume(throwing: error)
    }

    /// Subscribes and waits for the SUBACK; the subscription is renewed after every reconnect.
    /// `retainAsPublished` (MQTT 5): live messages keep their retain flag, so a subscriber can
    /// tell a new retained message from an ordinary one.
    public func subscribe(_ filter: String, qos: Int = 1, retainAsPublished: Bool = false) async throws {
        let options = retainAsPublished ? Int32(MQTT_SUB_OPT_RETAIN_AS_PUBLISHED.rawValue) : 0
        state.withLock { $0.subscriptions[filter] = (Int32(qos), options) }
        try await acknowledged("subscribe to \(filter)") { mid in
            options == 0
                ? mosquitto_subscribe(handle, mid, filter, Int32(qos))
                : mosquitto_subscribe_v5(handle, mid, filter, Int32(qos), options, nil)
        }
    }

    /// What became of a publish.
    public enum Published: Sendable, Equatable {
        /// Handed to libmosquitto (QoS 1: it resends until the broker acknowledges).
        case queued
        /// Not queued: the broker is away and ``MQTTClientOptions/maxUnacknowledged`` messages
        /// already wait for it. Counted in ``takeDroppedCount()``.
        case dropped
    }

    /// Publishes; QoS 1 messages are retried by libmosquitto until acknowledged.
    ///
    /// Bound and overflow rule: at most ``MQTTClientOptions/maxUnacknowledged`` QoS 1 messages
    /// wait for the broker's acknowledgement. While connected, a publisher beyond that waits
    /// (backpressure; libmosquitto's bookkeeping is linear in what waits, so an unbounded window
    /// also slows every acknowledgement down until the client cannot keep up). While the broker
    /// is away the message is dropped instead and counted (``takeDroppedCount()``): the hub's
    /// state is in its store and its deltas are resent on reconnect.
    ///
    /// Waiting needs acknowledgements to keep arriving, so a client that waits here must not be
    /// one whose network thread can block on a full ``messages`` inbox: the hub publishes on a
    /// connection of its own.
    @discardableResult
    public func publish(
        _ topic: String, payload: [UInt8], qos: Int = 1, retain: Bool = false, properties: PublishProperties? = nil
    ) async throws(MQTTError) -> Published {
        // MQTT 5 properties, on a connection that speaks MQTT 5 (libmosquitto copies the list).
        var list: OpaquePointer?
        defer { if list != nil { mosquitto_property_free_all(&list) } }
        if let properties, !properties.isEmpty, options.protocolVersion5 { list = Self.propertyList(properties) }
        while true {
            let attempt: (status: Int32, published: Published?) = state.withLock { state in
                if qos > 0 && state.unacknowledged.count >= options.maxUnacknowledged {
                    guard state.connected && !state.closed else {
                        state.dropped += 1
                        return (MOSQ_ERR_SUCCESS.rawValue, .dropped)
                    }
                    return (MOSQ_ERR_SUCCESS.rawValue, nil)
                }
                // Under the lock, so that the acknowledgement cannot be seen before the id is stored.
                var mid: Int32 = 0
                let status = payload.withUnsafeBytes {
                    list == nil
                        ? mosquitto_publish(handle, &mid, topic, Int32($0.count), $0.baseAddress, Int32(qos), retain)
                        : mosquitto_publish_v5(
                            handle, &mid, topic, Int32($0.count), $0.baseAddress, Int32(qos), retain, list)
                }
                if qos > 0 && (status == MOSQ_ERR_SUCCESS.rawValue || status == MOSQ_ERR_NO_CONN.rawValue) {
                    state.unacknowledged.insert(mid)
                }
                return (status, .queued)
            }
            if let published = attempt.published {
                // A QoS 1 message while the broker is away stays in libmosquitto's queue and goes
                // out after the reconnect (test_faults.py shows it): no failure.
                if qos > 0 && attempt.status == MOSQ_ERR_NO_CONN.rawValue { return published }
                try check(attempt.status, "publish to \(topic)")
                return published
            }
            await waitForRoom()
        }
    }

    static func propertyList(_ properties: PublishProperties) -> OpaquePointer? {
        var list: OpaquePointer?
        for property in properties.userProperties {
            mosquitto_property_add_string_pair(
                &list, Int32(MQTT_PROP_USER_PROPERTY.rawValue), property.name, property.value)
        }
        if let utf8 = properties.payloadIsUTF8 {
            mosquitto_property_add_byte(&list, Int32(MQTT_PROP_PAYLOAD_FORMAT_INDICATOR.rawValue), utf8 ? 1 : 0)
        }
        if let contentType = properties.contentType {
            mosquitto_property_add_string(&list, Int32(MQTT_PROP_CONTENT_TYPE.rawValue), contentType)
        }
        if let responseTopic = properties.responseTopic {
            mosquitto_property_add_string(&list, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), responseTopic)
        }
        if let data = properties.correlationData {
            data.withUnsafeBytes {
                _ = mosquitto_property_add_binary(
                    &list, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), $0.baseAddress, UInt16(clamping: $0.count))
            }
        }
        if let expiry = properties.messageExpirySeconds {
            mosquitto_property_add_int32(&list, Int32(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL.rawValue), expiry)
        }
        return list
    }

    private func waitForRoom() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                let room = state.unacknowledged.count < options.maxUnacknowledged || !state.connected || state.closed
                if !room { state.roomWaiters.append(continuation) }
                return room
            }
            if now { continuation.resume() }
        }
    }

    /// Wakes every waiting publisher, to look again (room, disconnection, close).
    private func wakePublishers() {
        let waiters = state.withLock { state in
            defer { state.roomWaiters = [] }
            return state.roomWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// QoS 1 messages waiting for the broker's acknowledgement.
    public var unacknowledgedCount: Int { state.withLock { $0.unacknowledged.count } }

    /// How many messages were dropped while the broker was away since the last call.
    public func takeDroppedCount() -> Int {
        state.withLock { state in
            defer { state.dropped = 0 }
            return state.dropped
        }
    }

    /// Runs a libmosquitto call that yields a message id, and waits for that id's acknowledgement.
    private func acknowledged(_ what: String, _ call: (UnsafeMutablePointer<Int32>) -> Int32) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            // Hold the lock across the call so that the callback cannot see the id before we stored it.
            let failure: MQTTError? = state.withLock { state in
                var mid: Int32 = 0
                let status = call(&mid)
                guard status == MOSQ_ERR_SUCCESS.rawValue else {
                    return MQTTError(
                        code: .init(rawValue: status),
                        message: "cannot \(what): \(String(cString: mosquitto_strerror(status)))")
                }
                state.pendingAcknowledgements[mid] = continuation
                return nil
            }
            if let failure { continuation.resume(throwing: failure) }
        }
    }

    /// Disconnects cleanly, stops the loop and frees the handle. The client cannot be reused.
    /// `sendingWill` (MQTT 5): the broker publishes the last will all the same (reason code 0x04,
    /// "disconnect with will message"), for a will that says the hub is going.
    public func close(sendingWill: Bool = false) {
        let (wasClosed, pending) = state.withLock { state in
            defer {
                state.closed = true
                state.pendingAcknowledgements = [:]
                state.pendingConnect = nil
            }
            return (
                state.closed, Array(state.pendingAcknowledgements.values) + (state.pendingConnect.map { [$0] } ?? [])
            )
        }
        guard !wasClosed else { return }
        wakePublishers()
        // First, so that a network thread waiting on a full inbox returns and the loop can stop.
        messages.finish()
        connectionContinuation.finish()
        if sendingWill && options.protocolVersion5 && options.will != nil {
            mosquitto_disconnect_v5(handle, 4, nil)
        } else {
            mosquitto_disconnect(handle)
        }
        mosquitto_loop_stop(handle, false)
        mosquitto_destroy(handle)
        for continuation in pending {
            continuation.resume(throwing: MQTTError(code: .closed, message: "the MQTT client was closed"))
        }
        connectionContinuation.finish()
    }

    private func check(_ status: Int32, _ what: String) throws(MQTTError) {
        guard status == MOSQ_ERR_SUCCESS.rawValue else {
            throw MQTTError(
                code: .init(rawValue: status), message: "cannot \(what): \(String(cString: mosquitto_strerror(status)))"
            )
        }
    }

    // MARK: - Callbacks (on libmosquitto's thread)

    fileprivate func connected(_ code: Int32) {
        guard code == 0 else {
            // A refusal (bad credentials, not authorised): fail a pending connect; retries go on.
            failConnect(
                MQTTError(
                    code: .refused,
                    message:
                        "MQTT broker at \(options.endpoint) refused the connection: \(String(cString: mosquitto_connack_string(code)))"
                ))
            return
        }
        let (subscriptions, pending) = state.withLock { state in
            state.connected = true
            // libmosquitto resends what was in flight; its acknowledgements may or may not come
            // under the old ids, so the window starts afresh rather than stay full for ever.
            state.unacknowledged = []
            defer { state.pendingConnect = nil }
            return (state.subscriptions, state.pendingConnect)
        }
        for (filter, subscription) in subscriptions {
            if subscription.options == 0 {
                mosquitto_subscribe(handle, nil, filter, subscription.qos)
            } else {
                mosquitto_subscribe_v5(handle, nil, filter, subscription.qos, subscription.options, nil)
            }
        }
        // The window starts afresh: a publisher still waiting must not wait for acknowledgements
        // of ids it no longer counts.
        wakePublishers()
        connectionContinuation.yield(true)
        pending?.resume()
    }

    fileprivate func disconnected(_ code: Int32) {
        let (wasConnected, closing) = state.withLock { state in
            defer { state.connected = false }
            return (state.connected, state.closed)
        }
        if wasConnected && !closing { connectionContinuation.yield(false) }
        wakePublishers()
        // TLS and authentication failures surface here, not in the connect callback.
        failConnect(
            MQTTError(
                code: .connectionLost,
                message:
                    "MQTT broker at \(options.endpoint) closed the connection: \(String(cString: mosquitto_strerror(code)))"
            ))
    }

    fileprivate func received(_ message: MQTTMessage) {
        messages.put(message)
    }

    fileprivate func acknowledged(mid: Int32) {
        let (continuation, waiter) = state.withLock { state in
            var waiter: CheckedContinuation<Void, Never>?
            if state.unacknowledged.remove(mid) != nil, !state.roomWaiters.isEmpty {
                waiter = state.roomWaiters.removeFirst()
            }
            return (state.pendingAcknowledgements.removeValue(forKey: mid), waiter)
        }
        continuation?.resume()
        waiter?.resume()
    }
}

private func client(_ userData: UnsafeMutableRawPointer?) -> MQTTClient? {
    userData.map { Unmanaged<MQTTClient>.fromOpaque($0).takeUnretainedValue() }
}

private func onConnect(_: OpaquePointer?, _ userData: UnsafeMutableRawPointer?, _ code: Int32) {
    client(userData)?.connected(code)
}

private func onDisconnect(_: OpaquePointer?, _ userData: UnsafeMutableRawPointer?, _ code: Int32) {
    client(userData)?.disconnected(code)
}

private func onMessage(
    _: OpaquePointer?, _ userData: UnsafeMutableRawPointer?, _ message: UnsafePointer<mosquitto_message>?
) {
    guard let message, let client = client(userData) else { return }
    client.received(MQTTMessage(copying: message.pointee))
}

extension MQTTMessage {
    /// A copy of libmosquitto's message (it is freed when the callback returns).
    fileprivate init(copying raw: mosquitto_message) {
        let payload: [UInt8] =
            raw.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(raw.payloadlen))) } ?? []
        self.init(topic: String(cString: raw.topic), payload: payload, qos: Int(raw.qos), retain: raw.retain)
    }
}

/// MQTT 5: the message with its user properties (the embedded broker stamps the sender there).
private func onMessageV5(
    _: OpaquePointer?, _ userData: UnsafeMutableRawPointer?, _ message: UnsafePointer<mosquitto_message>?,
    _ properties: OpaquePointer?
) {
    guard let message, let client = client(userData) else { return }
    var userProperties: [(String, String)] = []
    var name: UnsafeMutablePointer<CChar>?
    var value: UnsafeMutablePointer<CChar>?
    var property = mosquitto_property_read_string_pair(
        properties, Int32(MQTT_PROP_USER_PROPERTY.rawValue), &name, &value, false)
    while property != nil {
        if let name, let value { userProperties.append((String(cString: name), String(cString: value))) }
        free(name)
        free(value)
        name = nil
        value = nil
        property = mosquitto_property_read_string_pair(
            property, Int32(MQTT_PROP_USER_PROPERTY.rawValue), &name, &value, true)
    }
    var received = MQTTMessage(copying: message.pointee)
    received.userProperties = userProperties
    client.received(received)
}

private func onPublish(_: OpaquePointer?, _ userData: UnsafeMutableRawPointer?, _ mid: Int32) {
    client(userData)?.acknowledged(mid: mid)
}

private func onSubscribe(
    _: OpaquePointer?, _ userData: UnsafeMutableRawPointer?, _ mid: Int32, _: Int32, _: UnsafePointer<Int32>?
) {
    client(userData)?.acknowledged(mid: mid)
}

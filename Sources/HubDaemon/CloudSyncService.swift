import Dispatch
import HubCore
import HubMQTT
import HubStore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Sync with AWS IoT Core (docs/cloud.md): the configured shadows kept equal in the cloud over
/// one outbound mutual-TLS MQTT connection, as Greengrass's ShadowManager does, merged three-way
/// per leaf against the last state both sides agreed on (``ShadowSync``), that agreement kept in
/// hub.db so a restart resumes where it stopped.
///
/// One worker syncs, from a queue that keeps one pending entry per shadow (``LatestValues``): a
/// burst of local changes is one merged update, never a queue of stale ones. At most one update
/// per shadow is in flight; it carries AWS's `version`, and a 409 is answered by a fresh get and
/// a new merge. The agreed state is recorded only when AWS accepted the update that makes it so.
/// Changes from the cloud take the shadow service's one path with the identity `cloud`, whose
/// role is write (sensitive with `allow_sensitive`); a refused one is audited and undone in the
/// cloud. Commands written into a cloud shadow's `desired.command` become ledger commands;
/// their progress goes to the cloud's `cmd/THING/response` and its reported `command`.
struct CloudSyncService: Service {
    let configuration: HubConfiguration.Cloud
    let client: MQTTClient
    let shadows: ShadowService
    let commands: CommandService
    let store: HubStore
    let events: EventBus
    let state: CloudSyncState
    let logger: Logger

    /// What the worker does next for a shadow.
    struct Work: Sendable {
        var sync = false
        /// The cloud's copy is behind what AWS has: ask for the whole document.
        var refetch = false
        /// AWS accepted the update with this client token, now at this version.
        var accepted: (token: String, version: Int64)?
        /// AWS rejected the update with this client token (the code).
        var rejected: (token: String, code: Int, message: String)?

        static func merge(_ old: Work, _ new: Work) -> Work {
            Work(
                sync: old.sync || new.sync, accepted: new.accepted ?? old.accepted,
                rejected: new.rejected ?? old.rejected)
        }
    }

    func run() async throws {
        let work = LatestValues<ShadowID, Work>()
        try await state.load(store: store, shadows: shadows, configuration: configuration)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await connectLoop(work) }
                group.addTask { await worker(work) }
                group.addTask { await followEvents(work) }
                for await message in client.messages {
                    received(message, work: work)
                }
                work.finish()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            client.close()
        }
    }

    // MARK: - The connection

    /// Connects (retrying with backoff while the cloud is away), then at every connection
    /// subscribes and asks for every synced shadow: a full sync at each connect.
    func connectLoop(_ work: LatestValues<ShadowID, Work>) async {
        var delay = 1.0
        while !Task.isCancelled {
            do {
                try await client.connect(timeoutSeconds: 15)
                break
            } catch {
                state.disconnected(because: Self.explain(error, configuration))
                logger.warning("cannot reach AWS IoT Core; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 60)
            }
        }
        for await connected in client.connectionChanges {
            if connected {
                state.connected(at: shadows.clock.epochSeconds())
                logger.notice("connected to AWS IoT Core", metadata: ["cloud.endpoint": "\(configuration.endpoint)"])
                for cloudThing in state.cloudThings() {
                    do {
                        try await client.subscribe("$aws/things/\(cloudThing)/shadow/#", qos: 1)
                    } catch {
                        state.failed("cannot subscribe to \(cloudThing)'s shadow topics: \(error)")
                    }
                }
                for id in state.resetForFullSync() {
                    await requestCloudDocument(id)
                }
            } else {
                state.disconnected(because: "the connection to \(configuration.endpoint) was lost; reconnecting")
                logger.warning("lost AWS IoT Core; reconnecting")
            }
        }
    }

    /// Says why a connection failed in words a user can act on. libmosquitto reports a refused
    /// TLS handshake as no answer at all, so a silent endpoint names both causes.
    static func explain(_ error: any Error, _ configuration: HubConfiguration.Cloud) -> String {
        let text = "\(error)"
        let checks =
            "check [cloud] ca_file, cert_file and key_file, that the certificate is active in AWS IoT Core with a policy that allows iot:Connect for client id '\(configuration.clientID)', and the hub's clock"
        if text.contains("TLS") || text.contains("certificate") || text.contains("SSL") {
            return
                "\(configuration.endpoint):\(configuration.port) refused the TLS handshake or the certificate (\(text)); \(checks)"
        }
        if text.contains("no answer") {
            return
                "no MQTT answer from \(configuration.endpoint):\(configuration.port): the TLS handshake or the certificate was refused, or nothing answers there; \(checks)"
        }
        return "cannot reach \(configuration.endpoint):\(configuration.port): \(text)"
    }

    func requestCloudDocument(_ id: ShadowID) async {
        guard let entry = state.entry(for: id) else { return }
        await publish("\(entry.cloudPrefix(id))/get", ["clientToken": .string(CloudSyncState.getToken)])
    }

    /// Publishes to the cloud within the rate (AWS IoT Core: 100 publishes a second per connection).
    @discardableResult
    func publish(_ topic: String, _ body: JSONValue) async -> Bool {
        while let wait = state.waitBeforePublish(now: shadows.clock.monotonicNanoseconds()) {
            try? await Task.sleep(for: .nanoseconds(Int64(wait)))
        }
        do {
            try await client.publish(topic, payload: body.compactBytes, qos: 1)
            Counter(label: "homehub_cloud_publishes_total").increment()
            return true
        } catch {
            state.failed("cannot publish to \(topic): \(error)")
            return false
        }
    }

    // MARK: - From the cloud

    func received(_ message: MQTTMessage, work: LatestValues<ShadowID, Work>) {
        guard let topic = CloudTopic(message.topic), let id = state.localID(for: topic),
            let body = try? JSONParser().parse(message.payload)
        else { return }
        let token = body["clientToken"]?.stringValue
        switch (topic.operation, topic.suffix) {
        case ("get", "accepted"?), ("update", "documents"?):
            let document = topic.suffix == "documents" ? body["current"] : body
            guard let document, let version = document["version"]?.integerValue else { return }
            if state.cloudChanged(id, CloudSyncState.Cloud(document: document, version: version)) {
                work.put(id, Work(sync: true), merge: Work.merge)
            }
        case ("get", "rejected"?):
            if body["code"]?.integerValue == 404 {
                state.cloudChanged(id, .absent)
                work.put(id, Work(sync: true), merge: Work.merge)
            } else {
                state.failed("AWS IoT Core refused the get of \(topic.text): \(body.compactText)")
            }
        case ("update", "accepted"?):
            guard let version = body["version"]?.integerValue else { return }
            if let token { work.put(id, Work(accepted: (token, version)), merge: Work.merge) }
            // Someone else's update (a service that sends no `documents`): applied to the copy
            // when it follows it directly, otherwise the whole document is asked for.
            if token == nil || !(token!.hasPrefix("homehub-")) {
                switch state.applyCloudUpdate(id, body["state"], version: version) {
                case .applied: work.put(id, Work(sync: true), merge: Work.merge)
                case .gap: work.put(id, Work(refetch: true), merge: Work.merge)
                case .known: break
                }
            }
        case ("update", "delta"?):
            if let version = body["version"]?.integerValue, state.isNewer(id, version: version) {
                work.put(id, Work(refetch: true), merge: Work.merge)
            }
        case ("update", "rejected"?):
            if let token {
                work.put(
                    id,
                    Work(
                        rejected: (
                            token, Int(body["code"]?.integerValue ?? 0), body["message"]?.stringValue ?? ""
                        )), merge: Work.merge)
            }
        case ("delete", "accepted"?):
            // The cloud's copy was deleted: the house's shadow stays, and is put back in the cloud.
            state.cloudChanged(id, .absent, forgetAgreement: true)
            work.put(id, Work(sync: true), merge: Work.merge)
        default:
            return
        }
    }

    // MARK: - From the hub

    func followEvents(_ work: LatestValues<ShadowID, Work>) async {
        while !Task.isCancelled {
            for await event in events.subscribe(thing: nil, watcher: false).events {
                switch event["type"]?.stringValue {
                case "shadow.updated", "shadow.deleted":
                    guard let thing = event["thing"]?.stringValue,
                        let id = try? ShadowID(thingName: thing, shadowName: event["shadow"]?.stringValue),
                        state.isSynced(id)
                    else { continue }
                    work.put(id, Work(sync: true), merge: Work.merge)
                case "command.updated":
                    guard event["requester"]?["identity"] == "cloud" else { continue }
                    await commandProgress(event)
                case "subscriber.lagged":
                    for id in state.allSynced() { work.put(id, Work(sync: true), merge: Work.merge) }
                default:
                    continue
                }
            }
        }
    }

    // MARK: - The worker

    func worker(_ work: LatestValues<ShadowID, Work>) async {
        while let (id, item) = await work.next() {
            if item.refetch { await requestCloudDocument(id) }
            if let (token, version) = item.accepted {
                await committed(id, token: token, version: version)
            }
            if let rejected = item.rejected, state.clearInFlight(id, token: rejected.token) {
                if rejected.code == 409 {
                    // Someone changed the cloud's copy first: read it again and merge again.
                    await requestCloudDocument(id)
                } else if rejected.code == 429 || rejected.code >= 500 {
                    // AWS's limits (20 requests a second per thing) or a passing failure: again in a second.
                    state.failed(
                        "AWS IoT Core is busy (\(rejected.code) \(rejected.message)); trying again", shadow: id)
                    retry(id, work)
                } else {
                    state.failed(
                        "AWS IoT Core rejected the update of \(id.thingName)/\(id.shadowName ?? "(classic)"): \(rejected.code) \(rejected.message)",
                        shadow: id)
                }
            }
            if item.sync || state.takePendingAfterFlight(id) {
                switch await sync(id) {
                case .done: break
                // The hub was busy (429, 503): the same merge again in a second, not an undo.
                case .later: retry(id, work)
                case .after(let seconds): retry(id, work, after: seconds)
                }
            }
        }
    }

    /// The shadow's merge again in a second (the queue merges it into the shadow's one entry).
    func retry(_ id: ShadowID, _ work: LatestValues<ShadowID, Work>, after seconds: Double = 1) {
        Task {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000) + 1))
            work.put(id, Work(sync: true), merge: Work.merge)
        }
    }

    /// AWS accepted our update: what it carried is now agreed (recorded durably).
    func committed(_ id: ShadowID, token: String, version: Int64) async {
        guard let flight = state.takeInFlight(id, token: token) else { return }
        await record(id, base: flight.merged, localVersion: flight.localVersion, cloudVersion: version)
        // A change that waited for this flight runs next in the worker (takePendingAfterFlight).
    }

    func record(_ id: ShadowID, base: ShadowSync.State, localVersion: Int64, cloudVersion: Int64) async {
        guard let entry = state.entry(for: id) else { return }
        let now = shadows.clock.epochSeconds()
        let record = CloudSyncRecord(
            thing: id.thingName, shadow: id.shadowName ?? "", cloudThing: entry.cloudThing, base: base.json,
            localVersion: localVersion, cloudVersion: cloudVersion, syncedAt: now)
        do {
            try await store.saveCloudSync(record)
            state.agreed(id, record)
        } catch {
            state.failed("cannot record the sync of \(id.thingName): \(error)", shadow: id)
        }
    }

    enum Done: Equatable {
        case done
        /// The hub was busy: again in a second.
        case later
        /// Over the cloud thing's update budget: again after these seconds.
        case after(Double)
    }

    /// One merge of a shadow: the hub's state, the cloud's, and what they last agreed on.
    @discardableResult
    func sync(_ id: ShadowID) async -> Done {
        guard let entry = state.entry(for: id), state.isConnected else { return .done }
        guard let cloud = state.cloud(id) else {
            await requestCloudDocument(id)
            return .done
        }
        if state.markPendingIfInFlight(id) { return .done }
        // Commands in the cloud's desired state (the source document's pattern) go to the
        // ledger, then are cleared in the cloud (unversioned: nothing else is written with it).
        if let commands = cloud.state.desired["command"], entry.direction.writesHub || !state.isSynced(id) {
            await takeCommands(commands, from: cloud, id: id, entry: entry)
            await publish(
                "\(entry.cloudPrefix(id))/update",
                ["state": ["desired": ["command": .null]], "clientToken": "homehub-command"])
        }
        guard state.isSynced(id) else { return .done }
        let stored = await shadows.record(id)
        let live = stored?.exists == true ? stored : nil
        var hub = ShadowSync.State(desired: live?.desired ?? [:], reported: live?.reported ?? [:])
        var localVersion = live?.version ?? 0
        hub.desired["command"] = nil
        hub.reported["command"] = nil
        var cloudState = cloud.state
        cloudState.desired["command"] = nil
        cloudState.reported["command"] = nil
        var outcome = ShadowSync.merge(
            base: state.base(id), hub: hub, cloud: cloudState, direction: entry.direction,
            prefer: configuration.prefer)
        var toCloud = outcome.toCloud ?? [:]
        if let toHub = outcome.toHub {
            let request: JSONValue = ["state": .object(toHub), "clientToken": "cloud-sync"]
            switch await shadows.perform(.init(.update, id, payload: request.compactBytes), origin: .cloud, by: .cloud)
            {
            case .success(let applied):
                localVersion = applied.record?.version ?? localVersion + 1
            case .failure(let error) where error.code == 429 || error.code >= 500:
                state.failed("the hub is busy (\(error.code) \(error.message)); the cloud's change waits", shadow: id)
                return .later
            case .failure(let error):
                // Refused (a sensitive shadow without allow_sensitive) or invalid: audited where it
                // was decided; the cloud is told what the house holds, so it is not asked again.
                state.failed(
                    "the cloud's change to \(AccessGate.target(id)) was refused: \(error.code) \(error.message)",
                    shadow: id)
                toCloud = [:]
                if entry.direction.writesCloud {
                    outcome.merged = hub
                    let desired = ShadowSync.diff(from: cloudState.desired, to: hub.desired)
                    let reported = ShadowSync.diff(from: cloudState.reported, to: hub.reported)
                    if !desired.isEmpty { toCloud["desired"] = .object(desired) }
                    if !reported.isEmpty { toCloud["reported"] = .object(reported) }
                } else {
                    outcome.merged = cloudState
                }
            }
        }
        guard !toCloud.isEmpty else {
            if state.base(id) != outcome.merged || state.cloud(id)?.version != cloud.version {
                await record(id, base: outcome.merged, localVersion: localVersion, cloudVersion: cloud.version)
            }
            return .done
        }
        if let wait = state.thingBudget(entry.cloudThing, now: shadows.clock.monotonicNanoseconds()) {
            // Over the cloud thing's budget: the same merge when it has room (changes meanwhile
            // join the one pending entry).
            return .after(wait)
        }
        var body: JSONObject = ["state": .object(toCloud), "clientToken": .string(state.nextToken())]
        if cloud.version > 0 { body["version"] = .integer(cloud.version) }
        state.startFlight(
            id, token: body["clientToken"]!.stringValue!, merged: outcome.merged, localVersion: localVersion)
        if !(await publish("\(entry.cloudPrefix(id))/update", .object(body))) {
            _ = state.clearInFlight(id, token: body["clientToken"]!.stringValue!)
        }
        return .done
    }

    // MARK: - Commands from the cloud

    /// `desired.command` in a cloud shadow (the source document's pattern): each entry becomes a
    /// ledger command with the identity `cloud` — `{"commandId", "command", "parameters",
    /// "ttlSeconds"}` or `{"NAME": {PARAMETERS…, "ttl": SECONDS}}`.
    func takeCommands(_ value: JSONValue, from cloud: CloudSyncState.Cloud, id: ShadowID, entry: CloudSyncState.Entry)
        async
    {
        let entries = value.arrayValue ?? (value.objectValue != nil ? [value] : [])
        for (index, item) in entries.enumerated() {
            guard let request = Self.commandRequest(item) else {
                await respond(
                    entry, shadow: id.shadowName,
                    ["status": "REJECTED", "message": .string("unreadable command \(item.compactText)")])
                continue
            }
            // The same request seen again (a later version of the document) is the same command.
            let stamp = cloud.commandStamp ?? Int64(item.compactText.hashValue & 0x7fff_ffff)
            let key = request.id ?? "cloud:\(entry.cloudThing):\(stamp):\(index)"
            guard state.firstTime(commandKey: key) else { continue }
            let result = await commands.create(
                .init(
                    thing: id.thingName, name: request.name, parameters: request.parameters,
                    ttlSeconds: request.ttlSeconds, timeoutSeconds: nil, idempotencyKey: key,
                    requester: [
                        "identity": "cloud", "cloudThing": .string(entry.cloudThing),
                        "cloudShadow": id.shadowName.map(JSONValue.string) ?? .null,
                        "cloudCommandId": request.id.map(JSONValue.string) ?? .null,
                    ],
                    identity: .cloud, path: "cloud"))
            switch result {
            case .success(let (command, created)):
                if created {
                    shadows.access.audit(
                        .cloud, path: "cloud", action: "command \(request.name)", target: id.thingName, result: 201,
                        detail: command.id)
                }
            case .failure(let error):
                await respond(
                    entry, shadow: id.shadowName,
                    [
                        "commandId": request.id.map(JSONValue.string) ?? .string(key), "command": .string(request.name),
                        "status": "REJECTED", "message": .string(error.message),
                    ])
            }
        }
    }

    static func commandRequest(_ item: JSONValue) -> (
        id: String?, name: String, parameters: JSONObject, ttlSeconds: Double?
    )? {
        guard case .object(let object) = item else { return nil }
        if let name = object["command"]?.stringValue {
            let ttl = (object["ttlSeconds"] ?? object["ttl"])?.numberValue?.doubleValue
            return (object["commandId"]?.stringValue, name, object["parameters"]?.objectValue ?? [:], ttl)
        }
        guard object.count == 1, let name = object.keys.first, case .object(var parameters)? = object[name] else {
            return nil
        }
        let ttl = (parameters.removeValue(forKey: "ttl") ?? parameters.removeValue(forKey: "ttlSeconds"))?.numberValue?
            .doubleValue
        let id = parameters.removeValue(forKey: "commandId")?.stringValue
        return (id, name, parameters, ttl.map { max($0, 1) })
    }

    /// A ledger command the cloud asked for changed: its progress to `cmd/CLOUD_THING/response`
    /// and to the cloud shadow's reported `command`.
    func commandProgress(_ event: JSONValue) async {
        guard let cloudThing = event["requester"]?["cloudThing"]?.stringValue,
            let entry = state.entry(cloudThing: cloudThing)
        else { return }
        let body: JSONObject = [
            "commandId": event["requester"]?["cloudCommandId"].flatMap { $0 == .null ? nil : $0 } ?? event["id"]
                ?? .null,
            "hubCommandId": event["id"] ?? .null, "command": event["command"] ?? .null,
            "status": event["state"] ?? .null, "progress": event["progress"] ?? .null,
            "message": event["message"] ?? .null,
        ]
        await respond(entry, shadow: event["requester"]?["cloudShadow"]?.stringValue, body)
    }

    /// To `cmd/CLOUD_THING/response`, and to the reported `command` of the shadow it came from.
    func respond(_ entry: CloudSyncState.Entry, shadow: String?, _ body: JSONObject) async {
        await publish("cmd/\(entry.cloudThing)/response", .object(body))
        let target =
            shadow.map { "$aws/things/\(entry.cloudThing)/shadow/name/\($0)" }
            ?? "$aws/things/\(entry.cloudThing)/shadow"
        await publish(
            "\(target)/update",
            ["state": ["reported": ["command": .object(body)]], "clientToken": "homehub-command"])
    }
}

/// `$aws/things/THING/shadow[/name/SHADOW]/OPERATION[/SUFFIX]`.
struct CloudTopic {
    var thing: String
    var shadow: String?
    var operation: String
    var suffix: String?
    var text: String

    init?(_ topic: String) {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard levels.count >= 5, levels[0] == "$aws", levels[1] == "things", levels[3] == "shadow" else {
            return nil
        }
        thing = levels[2]
        var rest = levels[4...]
        if rest.first == "name" {
            guard rest.count >= 3 else { return nil }
            shadow = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        guard let operation = rest.first, rest.count <= 2 else { return nil }
        self.operation = operation
        suffix = rest.count == 2 ? rest.last : nil
        text = topic
    }
}

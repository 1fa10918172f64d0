public import HubCore

/// The routes of the control socket, who may call them, and the audit of every change.
///
/// AWS's shadow REST paths answer exactly as the IoT data plane does (status = code,
/// `x-amzn-ErrorType`, `{"code", "message"}`); homehub's own API lives under `/v1`.
public struct ControlAPI: HTTPResponder {
    let backend: any HubBackend
    let policy: AccessPolicy
    let identify: @Sendable (PeerCredentials) -> Caller
    /// The rule for identities the transport vouches for (an HTTPS request's application).
    let decide: @Sendable (Identity, Permission) -> AccessPolicy.Decision

    /// The endpoints by method, built once (their closures hold a copy of this value).
    let routes = RouteTable()

    public init(
        backend: any HubBackend, policy: AccessPolicy, identify: @escaping @Sendable (PeerCredentials) -> Caller,
        decide: @escaping @Sendable (Identity, Permission) -> AccessPolicy.Decision = { identity, _ in
            .denied("\(identity.phrase) is not known on this path")
        }
    ) {
        self.backend = backend
        self.policy = policy
        self.identify = identify
        self.decide = decide
        var table: [String: [Endpoint]] = [:]
        for method in ["GET", "POST", "PUT", "DELETE"] { table[method] = endpoints(for: method) }
        table["HEAD"] = table["GET"]
        routes.table = table
    }

    /// Set once in ``init`` before the value is shared, read only afterwards; that is the
    /// proof behind `@unchecked Sendable`.
    final class RouteTable: @unchecked Sendable {
        var table: [String: [Endpoint]] = [:]
    }

    struct Endpoint {
        var route: String
        let pattern: Route
        var permission: Permission?
        var handle: (HTTPRequest, [String]) async -> HTTPResponse

        init(
            route: String, permission: Permission?, handle: @escaping (HTTPRequest, [String]) async -> HTTPResponse
        ) {
            self.route = route
            self.pattern = Route(route)
            self.permission = permission
            self.handle = handle
        }
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        var request = request
        // A body is parsed once, here, for every route but AWS's shadow paths, whose payload
        // the shadow service reads as AWS does (its errors are the shadow service's).
        if !request.path.hasPrefix("/things/") { request.json = request.bodyJSON }
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let (endpoint, captured) = match(request.method, segments) else {
            return finish(
                request, route: "unmatched",
                response: .error(404, "no such endpoint: \(request.method) \(request.path)"))
        }
        let changesState = !["GET", "HEAD"].contains(request.method)
        let caller = request.peer.map(identify)
        if let permission = endpoint.permission {
            let decision: AccessPolicy.Decision
            if let vouched = request.identity {
                decision = decide(vouched, permission)
            } else {
                decision =
                    caller.map { policy.decide($0, needs: permission) }
                    ?? .denied("cannot identify the caller of this socket connection")
            }
            if case .denied(let reason) = decision {
                let response = HTTPResponse.error(403, reason, errorType: "ForbiddenException")
                if changesState {
                    await audit(request, caller: caller, captured: captured, response: response, detail: reason)
                }
                return finish(request, route: endpoint.route, response: response)
            }
        }
        let response = await endpoint.handle(request, captured)
        if changesState { await audit(request, caller: caller, captured: captured, response: response, detail: nil) }
        return finish(request, route: endpoint.route, response: response)
    }

    func finish(_ request: HTTPRequest, route: String, response: HTTPResponse) -> HTTPResponse {
        backend.countRequest(route: "\(request.method) \(route)", status: response.status)
        return response
    }

    func audit(_ request: HTTPRequest, caller: Caller?, captured: [String], response: HTTPResponse, detail: String?)
        async
    {
        let segments = request.path.split(separator: "/").map(String.init)
        var target = captured.first ?? (segments.count > 1 && segments[0] == "things" ? segments[1] : request.path)
        if let name = request.query["name"], !name.isEmpty { target += "/\(name)" }
        // A publish on a shadow topic is about that shadow (`hubctl audit --thing` finds it).
        if segments.first == "topics", let topic = ShadowTopic(segments.dropFirst().joined(separator: "/")) {
            target = topic.shadowName.map { "\(topic.thingName)/\($0)" } ?? topic.thingName
        }
        if request.path == "/v1/things", request.method == "POST",
            let name = request.json?["name"]?.stringValue
        {
            target = name
        }
        var message = detail
        if message == nil, response.status >= 400, case .bytes(let body) = response.body {
            message = (try? JSONParser().parse(body))?["message"]?.stringValue
        }
        var action = "\(request.method) \(request.path)"
        if request.path.hasSuffix("/commands"),
            let name = request.json?["command"]?.stringValue
        {
            action += " (\(name))"
        }
        await backend.recordAudit(
            AuditRecord(
                identity: request.identity ?? identity(caller), path: request.via, caller: caller,
                pid: request.peer?.pid, action: action, target: target,
                result: response.status, detail: message))
    }

    /// The identity of a socket caller (SO_PEERCRED); without credentials nobody vouches for it.
    func identity(_ caller: Caller?) -> Identity {
        caller.map(Identity.user) ?? .unidentified("a control-socket connection without peer credentials")
    }

    func identity(of request: HTTPRequest) -> Identity { request.identity ?? identity(request.peer.map(identify)) }

    func match(_ method: String, _ segments: [String]) -> (Endpoint, [String])? {
        for endpoint in routes.table[method] ?? [] {
            if let captured = endpoint.pattern.matches(segments) { return (endpoint, captured) }
        }
        // A known path with another method is a 405, not a 404.
        for other in ["GET", "POST", "PUT", "DELETE"] where other != method {
            for endpoint in routes.table[other] ?? [] where endpoint.pattern.matches(segments) != nil {
                return (
                    Endpoint(route: endpoint.route, permission: nil) { _, _ in
                        .error(
                            405, "\(method) is not allowed on /\(segments.joined(separator: "/"))",
                            errorType: "MethodNotAllowedException")
                    }, []
                )
            }
        }
        return nil
    }

    func endpoints(for method: String) -> [Endpoint] {
        switch method {
        case "GET", "HEAD":
            return [
                Endpoint(route: "v1/health", permission: nil) { _, _ in
                    let (ready, detail) = await backend.health()
                    return .json(detail, status: ready ? 200 : 503)
                },
                Endpoint(route: "v1/status", permission: .read) { _, _ in .json(await backend.status()) },
                Endpoint(route: "v1/cloud", permission: .read) { _, _ in .json(await backend.cloud()) },
                Endpoint(route: "v1/things", permission: .read) { _, _ in .json(await backend.things()) },
                Endpoint(route: "v1/things/*", permission: .read) { _, captured in
                    respond(await backend.thing(captured[0]))
                },
                Endpoint(route: "v1/events", permission: .read) { request, _ in events(request) },
                Endpoint(route: "v1/plugins", permission: .read) { _, _ in .json(await backend.plugins()) },
                Endpoint(route: "v1/plugins/*", permission: .read) { _, captured in
                    respond(await backend.plugin(captured[0]))
                },
                Endpoint(route: "v1/commands", permission: .read) { request, _ in
                    let limit = request.query["limit"].flatMap(Int.init) ?? 100
                    return respond(
                        await backend.commands(
                            thing: request.query["thing"], state: request.query["state"],
                            limit: max(1, min(limit, 10_000))))
                },
                Endpoint(route: "v1/commands/*", permission: .read) { _, captured in
                    respond(await backend.command(captured[0]))
                },
                Endpoint(route: "v1/schedules", permission: .read) { _, _ in .json(await backend.schedules()) },
                Endpoint(route: "v1/schedules/*", permission: .read) { _, captured in
                    respond(await backend.schedule(captured[0]))
                },
                Endpoint(route: "v1/schedules/*/next", permission: .read) { request, captured in
                    let count = request.query["count"].flatMap(Int.init) ?? 10
                    return respond(
                        await backend.nextFirings(
                            captured[0], count: max(1, min(count, 1000)), from: request.query["from"]))
                },
                Endpoint(route: "v1/ca", permission: .read) { _, _ in
                    guard let pem = backend.caCertificate() else {
                        return .error(
                            404, "this hub has no CA: it makes one for its embedded broker or its HTTPS listener")
                    }
                    return .text(pem, contentType: "application/x-pem-file")
                },
                Endpoint(route: "v1/apps", permission: .read) { _, _ in .json(await backend.applications()) },
                Endpoint(route: "v1/users", permission: .read) { _, _ in .json(await backend.members()) },
                Endpoint(route: "v1/things/*/history", permission: .read) { request, captured in
                    let hours = request.query["hours"].flatMap(Int.init) ?? 24
                    return respond(await backend.history(thing: captured[0], hours: max(1, min(hours, 24 * 366))))
                },
                Endpoint(route: "v1/apps/*", permission: .read) { _, captured in
                    respond(await backend.application(captured[0]))
                },
                Endpoint(route: "v1/audit", permission: .read) { request, _ in
                    let limit = request.query["limit"].flatMap(Int.init) ?? 50
                    return respond(
                        await backend.audit(limit: max(1, min(limit, 10_000)), target: request.query["thing"]))
                },
                Endpoint(route: "metrics", permission: .read) { _, _ in
                    .text(backend.metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8")
                },
                Endpoint(route: "things/*/shadow", permission: .read) { request, captured in
                    await shadow(.get, request, thing: captured[0])
                },
                Endpoint(route: "retainedMessage", permission: .read) { request, _ in
                    var maxResults = 200
                    if let text = request.query["maxResults"] {
                        guard let value = Int(text), (1...200).contains(value) else {
                            return .error(
                                400, "maxResults must be an integer from 1 to 200 (got \(text))",
                                errorType: "InvalidRequestException")
                        }
                        maxResults = value
                    }
                    let token = request.query["nextToken"].flatMap { $0.isEmpty ? nil : $0 }
                    return .json(await backend.retainedMessages(maxResults: maxResults, nextToken: token))
                },
                Endpoint(route: "retainedMessage/**", permission: .read) { request, captured in
                    let topic = rawTail(of: request, after: "/retainedMessage/") ?? captured[0]
                    guard let message = await backend.retainedMessage(topic) else {
                        return .error(
                            404, "No retained message exists on topic '\(topic)'",
                            errorType: "ResourceNotFoundException")
                    }
                    return .json(message)
                },
                Endpoint(route: "api/things/shadow/ListNamedShadowsForThing/*", permission: .read) {
                    request, captured in
                    await listNamedShadows(request, thing: captured[0])
                },
            ]
        case "POST":
            return [
                Endpoint(route: "v1/things", permission: .write) { request, _ in
                    guard let body = request.json else {
                        return .error(400, "the body must be JSON: {\"name\": …, \"type\": …, \"config\": {…}}")
                    }
                    return respond(await backend.registerThing(body, identity: identity(of: request)), status: 201)
                },
                Endpoint(route: "things/*/shadow", permission: .write) { request, captured in
                    await shadow(.update, request, thing: captured[0])
                },
                // AWS's Publish: a shadow request topic goes through the shadow path.
                Endpoint(route: "topics/**", permission: .write) { request, captured in
                    await publish(request, topic: captured[0])
                },
                Endpoint(route: "v1/plugins/*/restart", permission: .write) { _, captured in
                    respond(await backend.restartPlugin(captured[0]))
                },
                // A sensitive command's rule is the command ledger's, the same on every path.
                Endpoint(
                    route: "v1/things/*/commands", permission: .write,
                    handle: { request, captured in
                        guard let body = request.json, body.objectValue != nil else {
                            return .error(400, "the body must be JSON: {\"command\": \"unlock\", \"parameters\": {…}}")
                        }
                        switch await backend.createCommand(
                            thing: captured[0], request: body, identity: identity(of: request))
                        {
                        case .success(let (command, created)): return .json(command, status: created ? 201 : 200)
                        case .failure(let error): return .error(error)
                        }
                    }),
                // A device identity: who holds it can act as the thing on MQTT.
                Endpoint(route: "v1/things/*/certificate", permission: .sensitive) { _, captured in
                    respond(await backend.issueCertificate(thing: captured[0]), status: 201)
                },
                // An identity can act on the home: making one, or new credentials, is sensitive.
                Endpoint(route: "v1/apps", permission: .sensitive) { request, _ in
                    guard let body = request.json, body.objectValue != nil else {
                        return .error(400, "the body must be JSON: {\"name\": \"kitchen-tablet\", \"role\": \"write\"}")
                    }
                    return respond(await backend.addApplication(body), status: 201)
                },
                Endpoint(route: "v1/apps/*/rotate", permission: .sensitive) { _, captured in
                    respond(await backend.rotateApplication(captured[0]))
                },
                Endpoint(route: "v1/users", permission: .sensitive) { request, _ in
                    guard let body = request.json, body.objectValue != nil else {
                        return .error(400, "the body must be JSON: {\"name\": \"anna\", \"role\": \"write\"}")
                    }
                    return respond(await backend.addMember(body), status: 201)
                },
                Endpoint(route: "v1/users/*/password", permission: .sensitive) { request, captured in
                    respond(await backend.setMemberPassword(captured[0], request.json ?? [:]))
                },
                Endpoint(route: "v1/commands/*/cancel", permission: .write) { request, captured in
                    respond(await backend.cancelCommand(captured[0], caller: request.peer.map(identify)))
                },
                Endpoint(
                    route: "v1/schedules", permission: .write,
                    handle: { request, _ in await saveSchedule(request, id: nil) }),
                Endpoint(route: "v1/schedules/*/enable", permission: .write) { _, captured in
                    respond(await backend.setScheduleEnabled(captured[0], true))
                },
                Endpoint(route: "v1/schedules/*/disable", permission: .write) { _, captured in
                    respond(await backend.setScheduleEnabled(captured[0], false))
                },
                Endpoint(route: "v1/schedules/*/resume", permission: .write) { _, captured in
                    respond(await backend.resumeSchedule(captured[0]))
                },
            ]
        case "PUT":
            return [
                Endpoint(
                    route: "v1/schedules/*", permission: .write,
                    handle: { request, captured in await saveSchedule(request, id: captured[0]) })
            ]
        case "DELETE":
            return [
                Endpoint(route: "v1/things/*", permission: .write) { request, captured in
                    respond(await backend.removeThing(captured[0], identity: identity(of: request)))
                },
                Endpoint(route: "things/*/shadow", permission: .write) { request, captured in
                    await shadow(.delete, request, thing: captured[0])
                },
                Endpoint(route: "v1/schedules/*", permission: .write) { _, captured in
                    respond(await backend.removeSchedule(captured[0]))
                },
                Endpoint(route: "v1/apps/*", permission: .sensitive) { _, captured in
                    respond(await backend.removeApplication(captured[0]))
                },
                Endpoint(route: "v1/users/*", permission: .sensitive) { _, captured in
                    respond(await backend.removeMember(captured[0]))
                },
            ]
        default:
            return []
        }
    }

    /// What a schedule needs is decided by the schedule service from what its firings will do.
    func saveSchedule(_ request: HTTPRequest, id: String?) async -> HTTPResponse {
        guard let body = request.json, body.objectValue != nil else {
            return .error(400, "the body must be a JSON object: {\"thing\": …, \"program\": …} (docs/schedules.md)")
        }
        switch await backend.saveSchedule(id: id, request: body, identity: identity(of: request)) {
        case .success(let (schedule, created)): return .json(schedule, status: created ? 201 : 200)
        case .failure(let error): return .error(error)
        }
    }

    func respond(_ result: Result<JSONValue, HubError>, status: Int = 200) -> HTTPResponse {
        switch result {
        case .success(let body): return .json(body, status: status)
        case .failure(let error): return .error(error)
        }
    }

    func shadow(_ operation: ShadowTopic.Operation, _ request: HTTPRequest, thing: String) async -> HTTPResponse {
        let name = request.query["name"].flatMap { $0.isEmpty ? nil : $0 }
        let id: ShadowID
        do {
            id = try ShadowID(thingName: thing, shadowName: name, limits: backend.limits)
        } catch {
            return .shadowError(error)
        }
        // Only an update reads the body; a REST get or delete carries no clientToken.
        switch await backend.shadow(
            operation, id: id, payload: operation == .update ? request.body : [], identity: identity(of: request))
        {
        case .success(let body): return .json(body)
        case .failure(let error): return .shadowError(error)
        }
    }

    func publish(_ request: HTTPRequest, topic captured: String) async -> HTTPResponse {
        let topic = rawTail(of: request, after: "/topics/") ?? captured
        var qos = 0
        if let text = request.query["qos"] {
            guard let value = Int(text), (0...1).contains(value) else {
                return .error(400, "qos must be 0 or 1 (got \(text))", errorType: "InvalidRequestException")
            }
            qos = value
        }
        let retain = request.query["retain"] == "true"
        let properties: PublishProperties
        switch Self.publishProperties(request) {
        case .success(let value): properties = value
        case .failure(let error): return .error(400, error.message, errorType: "InvalidRequestException")
        }
        switch await backend.publish(
            topic: topic, payload: request.body, qos: qos, retain: retain, properties: properties,
            identity: identity(of: request))
        {
        case .success: return .json([:])
        case .failure(let error): return .shadowError(error)
        }
    }

    /// Publish's MQTT 5 parameters, as botocore sends them: `x-amz-mqtt5-user-properties` (a JSON
    /// array of one-member objects, base64), `x-amz-mqtt5-payload-format-indicator`,
    /// `x-amz-mqtt5-correlation-data` (base64), and `contentType`, `responseTopic`, `messageExpiry`.
    static func publishProperties(_ request: HTTPRequest) -> Result<PublishProperties, HubError> {
        var properties = PublishProperties()
        if let header = request.header("x-amz-mqtt5-user-properties") {
            // botocore encodes the JSON text as a JSON string (the shape is a string marked
            // jsonvalue) before base64; other clients send the array itself.
            var value = Base64.decode(header).flatMap { try? JSONParser().parse($0) }
            if let text = value?.stringValue { value = try? JSONParser().parse(Array(text.utf8)) }
            guard let list = value?.arrayValue else {
                return .failure(
                    .invalid(
                        "x-amz-mqtt5-user-properties must be base64 of a JSON array such as [{\"deviceName\": \"alpha\"}]"
                    ))
            }
            for item in list {
                guard let object = item.objectValue else {
                    return .failure(
                        .invalid("each user property must be a JSON object of strings (got \(item.compactText))"))
                }
                for (name, value) in object {
                    guard let text = value.stringValue else {
                        return .failure(.invalid("user property '\(name)' must be a string (got \(value.compactText))"))
                    }
                    properties.userProperties.append(.init(name: name, value: text))
                }
            }
        }
        switch request.header("x-amz-mqtt5-payload-format-indicator") {
        case nil: break
        case "UTF8_DATA"?: properties.payloadIsUTF8 = true
        case "UNSPECIFIED_BYTES"?: properties.payloadIsUTF8 = false
        case let other?:
            return .failure(.invalid("payloadFormatIndicator must be UNSPECIFIED_BYTES or UTF8_DATA (got \(other))"))
        }
        if let data = request.header("x-amz-mqtt5-correlation-data") {
            guard let bytes = Base64.decode(data) else { return .failure(.invalid("correlationData must be base64")) }
            properties.correlationData = bytes
        }
        properties.contentType = request.query["contentType"]
        properties.responseTopic = request.query["responseTopic"]
        if let text = request.query["messageExpiry"] {
            guard let seconds = UInt32(text) else {
                return .failure(.invalid("messageExpiry must be a number of seconds (got \(text))"))
            }
            properties.messageExpirySeconds = seconds
        }
        return .success(properties)
    }

    /// A topic at the end of the path, as sent (`%2F` inside a level is '/', as botocore encodes
    /// it), empty levels kept; nil when the request carries no raw target.
    func rawTail(of request: HTTPRequest, after prefix: String) -> String? {
        guard request.target.hasPrefix(prefix) else { return nil }
        let raw = request.target.dropFirst(prefix.count).prefix { $0 != "?" }
        return HTTPRequest.percentDecoded(String(raw))
    }

    func listNamedShadows(_ request: HTTPRequest, thing: String) async -> HTTPResponse {
        do {
            try ShadowNameRules.validateThingName(thing, limits: backend.limits)
        } catch {
            return .shadowError(error)
        }
        var pageSize = 25
        if let text = request.query["pageSize"] {
            guard let size = Int(text), (1...100).contains(size) else {
                return .shadowError(
                    ShadowError(code: 400, message: "pageSize must be an integer from 1 to 100 (got \(text))"))
            }
            pageSize = size
        }
        var names = await backend.namedShadows(of: thing)
        if let token = request.query["nextToken"], !token.isEmpty {
            // The token is the last name of the previous page: names are listed in order.
            names = names.filter { $0 > token }
        }
        var body: JSONObject = [
            "results": .array(names.prefix(pageSize).map(JSONValue.string)),
            "timestamp": .integer(backend.epochSeconds()),
        ]
        if names.count > pageSize { body["nextToken"] = .string(names[pageSize - 1]) }
        return .json(.object(body))
    }

    /// Server-sent events (see ``UnixSocketHTTPServer/writeEvents(_:to:)``).
    func events(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(
            status: 200, headers: [("Content-Type", "text/event-stream")],
            body: .events(backend.events(thing: request.query["thing"])))
    }
}

/// A path pattern such as `things/*/shadow`; `*` matches one segment and is captured, `**` (last)
/// the rest of the path.
struct Route {
    let parts: [Substring]

    init(_ pattern: String) {
        parts = pattern.split(separator: "/")
    }

    func matches(_ segments: [String]) -> [String]? {
        // `**` last: the rest of the path, at least one segment, captured joined by '/'.
        if parts.last == "**" {
            guard segments.count >= parts.count, zip(parts.dropLast(), segments).allSatisfy({ $0 == "*" || $0 == $1 })
            else { return nil }
            return [segments[(parts.count - 1)...].joined(separator: "/")]
        }
        guard segments.count == parts.count else { return nil }
        var captured: [String] = []
        for (part, segment) in zip(parts, segments) {
            if part == "*" {
                captured.append(segment)
            } else if part != segment {
                return nil
            }
        }
        return captured
    }
}

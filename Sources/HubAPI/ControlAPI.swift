public import HubCore

/// What the control API needs from the shadow service.
public protocol ShadowOperations: Sendable {
    var limits: ShadowLimits { get }
    /// Runs a REST shadow request through the same path as an MQTT one; returns the body.
    func perform(_ operation: ShadowTopic.Operation, id: ShadowID, payload: [UInt8]) async -> Result<JSONValue, ShadowError>
    func namedShadows(of thing: String) async -> [String]
    func epochSeconds() -> Int64
}

/// What `/v1/health` reports: ready once the broker is connected and the hub subscribed.
public protocol HealthReporting: Sendable {
    func health() async -> (ready: Bool, detail: JSONValue)
}

/// The routes of the control socket. AWS's shadow REST paths answer exactly as the IoT data
/// plane does (status = code, `x-amzn-ErrorType`, `{"code", "message"}`); homehub's own API
/// lives under `/v1`.
public struct ControlAPI: HTTPResponder {
    let shadows: any ShadowOperations
    let health: any HealthReporting

    public init(shadows: any ShadowOperations, health: any HealthReporting) {
        self.shadows = shadows
        self.health = health
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if Route("v1/health").matches(segments) != nil, request.method == "GET" || request.method == "HEAD" {
            let (ready, detail) = await health.health()
            return .json(detail, status: ready ? 200 : 503)
        }
        if let captured = Route("things/*/shadow").matches(segments) {
            return await shadow(request, thing: captured[0])
        }
        if let captured = Route("api/things/shadow/ListNamedShadowsForThing/*").matches(segments) {
            guard request.method == "GET" else {
                return .error(405, "\(request.method) is not allowed here; use GET", errorType: "MethodNotAllowedException")
            }
            return await listNamedShadows(request, thing: captured[0])
        }
        return .error(404, "no such endpoint: \(request.method) \(request.path)")
    }

    func shadow(_ request: HTTPRequest, thing: String) async -> HTTPResponse {
        let operation: ShadowTopic.Operation
        switch request.method {
        case "GET": operation = .get
        case "POST": operation = .update
        case "DELETE": operation = .delete
        default:
            return .error(405, "\(request.method) is not allowed on a shadow; use GET, POST or DELETE",
                errorType: "MethodNotAllowedException")
        }
        let name = request.query["name"].flatMap { $0.isEmpty ? nil : $0 }
        let id: ShadowID
        do {
            id = try ShadowID(thingName: thing, shadowName: name, limits: shadows.limits)
        } catch {
            return .shadowError(error)
        }
        // Only an update reads the body; a REST get or delete carries no clientToken.
        switch await shadows.perform(operation, id: id, payload: operation == .update ? request.body : []) {
        case .success(let body): return .json(body)
        case .failure(let error): return .shadowError(error)
        }
    }

    func listNamedShadows(_ request: HTTPRequest, thing: String) async -> HTTPResponse {
        do {
            try ShadowNameRules.validateThingName(thing, limits: shadows.limits)
        } catch {
            return .shadowError(error)
        }
        var pageSize = 25
        if let text = request.query["pageSize"] {
            guard let size = Int(text), (1...100).contains(size) else {
                return .shadowError(ShadowError(code: 400, message: "pageSize must be an integer from 1 to 100 (got \(text))"))
            }
            pageSize = size
        }
        var names = await shadows.namedShadows(of: thing)
        if let token = request.query["nextToken"], !token.isEmpty {
            // The token is the last name of the previous page: names are listed in order.
            names = names.filter { $0 > token }
        }
        var body: JSONObject = [
            "results": .array(names.prefix(pageSize).map(JSONValue.string)),
            "timestamp": .integer(shadows.epochSeconds()),
        ]
        if names.count > pageSize { body["nextToken"] = .string(names[pageSize - 1]) }
        return .json(.object(body))
    }
}

/// A path pattern such as `things/*/shadow`; `*` matches one segment and is captured.
struct Route {
    let parts: [Substring]

    init(_ pattern: String) {
        parts = pattern.split(separator: "/")
    }

    func matches(_ segments: [String]) -> [String]? {
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

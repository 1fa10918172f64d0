public import HubCore

/// The hub as an AWS IoT data-plane endpoint (botocore's iot-data model) on HTTPS: every request
/// is authenticated first (SigV4, by the application's key), then answered by the control API's
/// own routes for AWS's paths with that application as the identity — the same rules, audit and
/// shadow path as every other way in (docs/applications.md).
public struct DataPlaneAPI: HTTPResponder {
    /// Why a request is not authenticated: the status, `x-amzn-ErrorType` and message botocore
    /// maps, and who the key names when it names anyone.
    public struct Refusal: Error, Sendable {
        public var status: Int
        public var errorType: String
        public var message: String
        public var identity: Identity

        public init(status: Int, errorType: String, message: String, identity: Identity) {
            self.status = status
            self.errorType = errorType
            self.message = message
            self.identity = identity
        }
    }

    let api: ControlAPI
    let authenticate: @Sendable (HTTPRequest) -> Result<Identity, Refusal>

    public init(api: ControlAPI, authenticate: @escaping @Sendable (HTTPRequest) -> Result<Identity, Refusal>) {
        self.api = api
        self.authenticate = authenticate
    }

    /// The operations served here: GetThingShadow, UpdateThingShadow, DeleteThingShadow,
    /// ListNamedShadowsForThing, Publish, GetRetainedMessage, ListRetainedMessages.
    static func isDataPlane(_ request: HTTPRequest) -> Bool {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: true)
        if segments.count == 3, segments[0] == "things", segments[2] == "shadow" { return true }
        if segments.count == 5, segments[0] == "api", segments[1] == "things", segments[2] == "shadow",
            segments[3] == "ListNamedShadowsForThing"
        {
            return true
        }
        if segments.first == "retainedMessage" { return true }
        return segments.count >= 2 && segments[0] == "topics"
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        var request = request
        request.via = "https"
        switch authenticate(request) {
        case .failure(let refusal):
            let response = HTTPResponse.error(refusal.status, refusal.message, errorType: refusal.errorType)
            var audited = request
            audited.identity = refusal.identity
            await api.audit(audited, caller: nil, captured: [], response: response, detail: refusal.message)
            return api.finish(request, route: "https", response: response)
        case .success(let identity):
            request.identity = identity
        }
        guard Self.isDataPlane(request) else {
            return .error(
                404,
                "no such operation: \(request.method) \(request.path) (the hub serves AWS IoT's data-plane API here)",
                errorType: "ResourceNotFoundException")
        }
        return await api.respond(to: request)
    }
}

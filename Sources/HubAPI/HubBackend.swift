public import HubCore

/// A state-changing request as the audit log records it.
public struct AuditRecord: Sendable {
    public var identity: Identity
    /// The way in: `api` (the control socket), `https`.
    public var path: String
    public var caller: Caller?
    public var pid: Int32?
    public var action: String
    public var target: String
    public var result: Int
    public var detail: String?
}

/// Everything the control API asks of the hub. The daemon implements it; tests can fake it.
public protocol HubBackend: Sendable {
    var limits: ShadowLimits { get }
    func epochSeconds() -> Int64

    /// Runs a REST shadow request through the same path as an MQTT one; returns the body.
    func shadow(_ operation: ShadowTopic.Operation, id: ShadowID, payload: [UInt8], identity: Identity) async
        -> Result<JSONValue, ShadowError>
    func namedShadows(of thing: String) async -> [String]
    /// AWS's GetRetainedMessage (nil: none on that topic) and ListRetainedMessages.
    func retainedMessage(_ topic: String) async -> JSONValue?
    func retainedMessages(maxResults: Int, nextToken: String?) async -> JSONValue
    /// AWS's Publish: a shadow request topic is a shadow request by `identity`; any other topic
    /// is published on the broker under the same rules the broker applies to that identity.
    func publish(
        topic: String, payload: [UInt8], qos: Int, retain: Bool, properties: PublishProperties, identity: Identity
    ) async -> Result<
        Void, ShadowError
    >

    /// Ready once the broker is connected and the hub subscribed.
    func health() async -> (ready: Bool, detail: JSONValue)
    func status() async -> JSONValue
    /// Cloud sync: connected or not since when, per shadow the last sync, what is pending, the last error.
    func cloud() async -> JSONValue

    func things() async -> JSONValue
    func thing(_ name: String) async -> Result<JSONValue, HubError>
    /// Registers (or re-registers) a thing; changing one whose type has sensitive shadows or
    /// commands needs the sensitive role (it could otherwise drop the lock's protection).
    func registerThing(_ request: JSONValue, identity: Identity) async -> Result<JSONValue, HubError>
    func removeThing(_ name: String, identity: Identity) async -> Result<JSONValue, HubError>

    /// Live events (shadow changes, connectivity, later commands and schedules), optionally for one thing.
    func events(thing: String?) -> EventFeed

    func plugins() async -> JSONValue
    func plugin(_ id: String) async -> Result<JSONValue, HubError>
    func restartPlugin(_ id: String) async -> Result<JSONValue, HubError>

    /// Creates a command; `created` is false when an idempotency key named an existing one.
    func createCommand(thing: String, request: JSONValue, identity: Identity) async -> Result<
        (JSONValue, created: Bool), HubError
    >
    func commands(thing: String?, state: String?, limit: Int) async -> Result<JSONValue, HubError>
    func command(_ id: String) async -> Result<JSONValue, HubError>
    func cancelCommand(_ id: String, caller: Caller?) async -> Result<JSONValue, HubError>

    /// The hub's CA certificate (PEM): what HTTPS clients and devices trust; nil without a CA.
    func caCertificate() -> String?

    /// A client certificate for a thing from the hub's CA: `{thing, key, certificate, ca, tlsPort}`.
    func issueCertificate(thing: String) async -> Result<JSONValue, HubError>

    func schedules() async -> JSONValue
    func schedule(_ id: String) async -> Result<JSONValue, HubError>
    /// Creates (`id` nil: POST) or replaces (PUT) a schedule; `created` says which.
    func saveSchedule(id: String?, request: JSONValue, identity: Identity) async -> Result<
        (JSONValue, created: Bool), HubError
    >
    func removeSchedule(_ id: String) async -> Result<JSONValue, HubError>
    func setScheduleEnabled(_ id: String, _ enabled: Bool) async -> Result<JSONValue, HubError>
    func resumeSchedule(_ id: String) async -> Result<JSONValue, HubError>
    func nextFirings(_ id: String, count: Int, from: String?) async -> Result<JSONValue, HubError>

    /// Application identities (`hubctl apps`): never their secrets, which are shown once.
    func applications() async -> JSONValue
    func application(_ name: String) async -> Result<JSONValue, HubError>
    /// `{"name", "role", "issueCert"?}` → the application with its MQTT password (once).
    func addApplication(_ request: JSONValue) async -> Result<JSONValue, HubError>
    func rotateApplication(_ name: String) async -> Result<JSONValue, HubError>
    func removeApplication(_ name: String) async -> Result<JSONValue, HubError>

    /// Household members (docs/dashboard.md): `{name, role, password?}`; a password is generated
    /// (and returned once) when none is given. Changing or removing one ends their sessions.
    /// A thing's reported numbers over the last `hours` (docs/dashboard.md).
    func history(thing: String, hours: Int) async -> Result<JSONValue, HubError>
    func members() async -> JSONValue
    func addMember(_ request: JSONValue) async -> Result<JSONValue, HubError>
    func setMemberPassword(_ name: String, _ request: JSONValue) async -> Result<JSONValue, HubError>
    func removeMember(_ name: String) async -> Result<JSONValue, HubError>

    func audit(limit: Int, target: String?) async -> Result<JSONValue, HubError>
    func recordAudit(_ record: AuditRecord) async

    /// Prometheus text exposition.
    func metricsText() -> String
    /// Counts one answered request (for /metrics).
    func countRequest(route: String, status: Int)
}

/// A refusal from one of the hub's services, in the domain's own terms. The services say what
/// kind of refusal it is; only the API layer turns a kind into an HTTP status.
///
/// The message names the thing, the rule and the fix, as every error of the hub does.
public struct HubError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Extensible, like C return codes made Swift: new kinds can be added without breaking callers.
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The request is malformed or breaks a rule of what it names.
        public static let invalid = Kind(rawValue: "invalid")
        /// What the request names does not exist.
        public static let notFound = Kind(rawValue: "not-found")
        /// The request clashes with the current state (already exists, already ended).
        public static let conflict = Kind(rawValue: "conflict")
        /// The caller may not do this.
        public static let forbidden = Kind(rawValue: "forbidden")
        /// The hub cannot do it now (storage unavailable, disk full); trying later may work.
        public static let unavailable = Kind(rawValue: "unavailable")
        /// Something in the hub broke; the log has the detail.
        public static let `internal` = Kind(rawValue: "internal")
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public static func invalid(_ message: String) -> HubError { HubError(.invalid, message) }
    public static func notFound(_ message: String) -> HubError { HubError(.notFound, message) }
    public static func conflict(_ message: String) -> HubError { HubError(.conflict, message) }
    public static func forbidden(_ message: String) -> HubError { HubError(.forbidden, message) }
    public static func unavailable(_ message: String) -> HubError { HubError(.unavailable, message) }
    public static func `internal`(_ message: String) -> HubError { HubError(.internal, message) }
}

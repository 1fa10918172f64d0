/// A validated update request: `{"state": {"desired"?, "reported"?} | null, "clientToken"?, "version"?}`.
public struct ShadowUpdateRequest: Sendable, Equatable {
    /// A section to merge (`.object`), to remove (`.null`), or not in the request (`nil`).
    public var desired: JSONValue?
    public var reported: JSONValue?
    /// `"state": null`: clear both sections.
    public var clearsState: Bool
    public var clientToken: String?
    public var version: Int64?
    /// The request's `state` member exactly as sent, echoed in `/update/accepted`.
    public var echoedState: JSONValue

    public init(
        desired: JSONObject? = nil, reported: JSONObject? = nil, clientToken: String? = nil, version: Int64? = nil
    ) {
        self.desired = desired.map(JSONValue.object)
        self.reported = reported.map(JSONValue.object)
        self.clearsState = false
        self.clientToken = clientToken
        self.version = version
        var state = JSONObject()
        if let desired { state["desired"] = .object(desired) }
        if let reported { state["reported"] = .object(reported) }
        self.echoedState = .object(state)
    }

    /// Validates a request in AWS's order: clientToken, state, nodes in state, section types,
    /// depth, nulls in arrays, version. Errors echo the clientToken once it is known to be valid.
    public init(_ document: JSONValue, limits: ShadowLimits) throws(ShadowError) {
        guard case .object(let object) = document else { throw .invalidJSON }
        let clientToken = try Self.clientToken(in: object, limits: limits)
        do {
            try self.init(object, clientToken: clientToken, limits: limits)
        } catch {
            throw error.with(clientToken: clientToken)
        }
    }

    private init(_ object: JSONObject, clientToken: String?, limits: ShadowLimits) throws(ShadowError) {
        self.clientToken = clientToken
        guard let state = object["state"] else { throw .missingState }
        echoedState = state
        desired = nil
        reported = nil
        clearsState = false
        switch state {
        case .null:
            clearsState = true
        case .object(let sections):
            for key in sections.keys where key != "desired" && key != "reported" {
                throw .invalidStateNode(key)
            }
            desired = try Self.section(sections["desired"], error: .desiredNotObject)
            reported = try Self.section(sections["reported"], error: .reportedNotObject)
        default:
            throw .stateNotObject
        }
        for case .object(let section)? in [desired, reported] {
            try Self.checkDepth(of: .object(section), level: 1, maximum: limits.maxDepth)
        }
        for case .object(let section)? in [desired, reported] {
            try Self.checkNoNullInArrays(.object(section), insideArray: false)
        }
        version = try Self.version(in: object)
    }

    static func clientToken(in object: JSONObject, limits: ShadowLimits) throws(ShadowError) -> String? {
        switch object["clientToken"] {
        case nil, .null?: return nil
        case .string(let token)? where token.utf8.count <= limits.maxClientTokenBytes: return token
        default: throw .invalidClientToken
        }
    }

    static func section(_ value: JSONValue?, error: ShadowError) throws(ShadowError) -> JSONValue? {
        switch value {
        case nil: return nil
        case .null?, .object?: return value
        default: throw error
        }
    }

    static func version(in object: JSONObject) throws(ShadowError) -> Int64? {
        switch object["version"] {
        case nil, .null?: return nil
        case .number(let number)?:
            guard let version = number.exactInteger, version >= 0 else { throw .invalidVersion }
            return version
        default: throw .invalidVersion
        }
    }

    /// `desired`/`reported` are level 1; a container deeper than `maximum` is rejected.
    static func checkDepth(of value: JSONValue, level: Int, maximum: Int) throws(ShadowError) {
        switch value {
        case .object(let object):
            guard level <= maximum else { throw .tooDeep(maximum: maximum) }
            for member in object.values { try checkDepth(of: member, level: level + 1, maximum: maximum) }
        case .array(let array):
            guard level <= maximum else { throw .tooDeep(maximum: maximum) }
            for element in array { try checkDepth(of: element, level: level + 1, maximum: maximum) }
        default:
            return
        }
    }

    /// Arrays are whole values and may not hold `null` anywhere inside them.
    static func checkNoNullInArrays(_ value: JSONValue, insideArray: Bool) throws(ShadowError) {
        switch value {
        case .null where insideArray: throw .arrayContainsNull
        case .object(let object):
            for member in object.values { try checkNoNullInArrays(member, insideArray: insideArray) }
        case .array(let array):
            for element in array { try checkNoNullInArrays(element, insideArray: true) }
        default:
            return
        }
    }
}

/// The optional payload of `/get` and `/delete`: empty, or JSON whose `clientToken` is echoed.
/// Only a zero-length payload is "no payload"; whitespace alone is not JSON (400 Invalid JSON).
struct ShadowReadRequest {
    var clientToken: String?

    init(_ payload: [UInt8], limits: ShadowLimits) throws(ShadowError) {
        guard !payload.isEmpty else { return }
        let document = try ShadowEngine.parse(payload, limits: limits)
        if case .object(let object) = document {
            clientToken = try ShadowUpdateRequest.clientToken(in: object, limits: limits)
        }
    }
}

extension ShadowUpdateRequest {
    /// The clientToken of a payload, if it is a JSON object with a valid one; for rejections
    /// decided before a request is read (rate limit, unknown thing), which must still carry it.
    public static func bestEffortClientToken(_ payload: [UInt8], limits: ShadowLimits) -> String? {
        guard !payload.isEmpty, payload.count <= limits.maxDocumentBytes * 4,
            case .object(let object)? = try? JSONParser().parse(payload)
        else { return nil }
        return try? clientToken(in: object, limits: limits)
    }
}

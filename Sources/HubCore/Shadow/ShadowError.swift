/// A rejected shadow request: AWS's HTTP-style code and exact message.
public struct ShadowError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int
    public var message: String
    /// Echoed in the error document when the request carried a valid one.
    public var clientToken: String?

    public init(code: Int, message: String, clientToken: String? = nil) {
        self.code = code
        self.message = message
        self.clientToken = clientToken
    }

    public var description: String { "\(code) \(message)" }

    /// The error document published on `…/rejected`: `{"code", "message", "clientToken"?}`.
    public var document: JSONValue {
        var object: JSONObject = ["code": .integer(Int64(code)), "message": .string(message)]
        if let clientToken { object["clientToken"] = .string(clientToken) }
        return .object(object)
    }

    /// The exception name AWS's REST API sends in `x-amzn-ErrorType` for this code.
    public var exceptionName: String {
        switch code {
        case 400: return "InvalidRequestException"
        case 401: return "UnauthorizedException"
        case 403: return "ForbiddenException"
        case 404: return "ResourceNotFoundException"
        case 405: return "MethodNotAllowedException"
        case 409: return "ConflictException"
        case 413: return "RequestEntityTooLargeException"
        case 415: return "UnsupportedDocumentEncodingException"
        case 429: return "ThrottlingException"
        case 503: return "ServiceUnavailableException"
        default: return "InternalFailureException"
        }
    }

    /// The same error, echoing the request's clientToken (a rejection must carry it).
    public func with(clientToken: String?) -> ShadowError {
        var copy = self
        copy.clientToken = clientToken
        return copy
    }
}

extension ShadowError {
    public static let invalidJSON = ShadowError(code: 400, message: "Invalid JSON")
    public static let missingState = ShadowError(code: 400, message: "Missing required node: state")
    public static let stateNotObject = ShadowError(code: 400, message: "State node must be an object")
    public static let desiredNotObject = ShadowError(code: 400, message: "Desired node must be an object")
    public static let reportedNotObject = ShadowError(code: 400, message: "Reported node must be an object")
    public static let invalidVersion = ShadowError(code: 400, message: "Invalid version")
    public static let invalidClientToken = ShadowError(code: 400, message: "Invalid clientToken")
    public static let arrayContainsNull = ShadowError(code: 400, message: "Arrays may not contain null values")
    public static let versionConflict = ShadowError(code: 409, message: "Version conflict")
    public static let payloadTooLarge = ShadowError(code: 413, message: "The payload exceeds the maximum size allowed")
    public static let unsupportedEncoding = ShadowError(
        code: 415, message: "Unsupported documented encoding; supported encoding is UTF-8")
    public static let tooManyRequests = ShadowError(code: 429, message: "TOO_MANY_REQUESTS")
    public static let internalFailure = ShadowError(code: 500, message: "Internal service failure")
    public static let thingNotFound = ShadowError(code: 404, message: "Thing not found")

    public static func tooDeep(maximum: Int) -> ShadowError {
        ShadowError(code: 400, message: "JSON contains too many levels of nesting; maximum is \(maximum)")
    }

    public static func invalidStateNode(_ key: String) -> ShadowError {
        ShadowError(code: 400, message: "State contains an invalid node: '\(key)'")
    }

    public static func noShadow(_ id: ShadowID) -> ShadowError {
        ShadowError(code: 404, message: "No shadow exists with name: '\(id.qualifiedName)'")
    }

    public static func invalidName(_ detail: String) -> ShadowError {
        ShadowError(code: 400, message: "Invalid name: \(detail)")
    }
}

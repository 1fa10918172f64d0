/// Typed reads out of a document, with errors that name the key path and the rule:
/// `'mqtt.port' must be an integer, got a string`. The one reader of the hub's configuration
/// (TOML, read into JSON values), plugin manifests and schedules; each says how its errors
/// begin (the file, "schedule") through `failure`.
///
/// Absent and `null` are the same: an optional read returns nil, a `required` one fails.
public struct DocumentReader<Failure: Error>: Sendable {
    public let value: JSONValue
    /// The key path of `value`: `mqtt`, `deviceTypes.heater.shadows[0]`, "" for the root.
    public let path: String
    /// What objects are called where the document comes from ("table" in TOML).
    let objectName: String
    let failure: @Sendable (_ path: String, _ rule: String) -> Failure

    public init(
        _ value: JSONValue, path: String = "", objectName: String = "object",
        failure: @escaping @Sendable (_ path: String, _ rule: String) -> Failure
    ) {
        self.value = value
        self.path = path
        self.objectName = objectName
        self.failure = failure
    }

    /// The key path of a member.
    public func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func child(_ key: String) -> DocumentReader {
        DocumentReader(value[key] ?? .null, path: name(key), objectName: objectName, failure: failure)
    }

    /// A failure at this value's path.
    public func fail(_ rule: String) -> Failure { failure(path, rule) }

    /// A failure at a member's path.
    public func fail(_ key: String, _ rule: String) -> Failure { failure(name(key), rule) }

    func member(_ key: String) -> JSONValue? {
        guard let member = value[key], !member.isNull else { return nil }
        return member
    }

    func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number(let number): return number.exactInteger != nil ? "an integer" : "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return objectName == "object" ? "an object" : "a \(objectName)"
        }
    }

    /// Every member is one of `known`.
    public func onlyKeys(_ known: [String]) throws(Failure) {
        guard case .object(let object) = value else { throw fail("must be \(kind(.object([:])))") }
        for key in object.keys where !known.contains(key) {
            throw fail(key, "is not a known key (known: \(known.joined(separator: ", ")))")
        }
    }

    /// The member, which must be present.
    public func required(_ key: String) throws(Failure) -> DocumentReader {
        guard member(key) != nil else { throw fail(key, "is required") }
        return child(key)
    }

    public func string(_ key: String) throws(Failure) -> String? {
        guard let member = member(key) else { return nil }
        guard let string = member.stringValue else { throw fail(key, "must be a string, got \(kind(member))") }
        return string
    }

    /// A required, non-empty string that `valid` accepts (`pattern` says what is valid).
    public func requiredString(_ key: String, pattern: String? = nil, _ valid: (String) -> Bool = { _ in true })
        throws(Failure) -> String
    {
        guard let string = try string(key), !string.isEmpty else {
            throw fail(key, member(key) == nil ? "is required" : "must be a non-empty string")
        }
        guard valid(string) else { throw fail(key, "may only hold \(pattern ?? "valid characters") (got '\(string)')") }
        return string
    }

    public func strings(_ key: String) throws(Failure) -> [String]? {
        guard let member = member(key) else { return nil }
        guard let array = member.arrayValue else { throw fail(key, "must be an array of strings, got \(kind(member))") }
        var result: [String] = []
        for element in array {
            guard let string = element.stringValue else {
                throw fail(key, "must be an array of strings, but holds \(kind(element))")
            }
            result.append(string)
        }
        return result
    }

    public func integer(_ key: String, in range: ClosedRange<Int>? = nil) throws(Failure) -> Int? {
        guard let member = member(key) else { return nil }
        guard let wide = member.numberValue?.exactInteger, let integer = Int(exactly: wide) else {
            throw fail(key, "must be an integer, got \(kind(member))")
        }
        if let range, !range.contains(integer) {
            throw fail(key, "must be between \(range.lowerBound) and \(range.upperBound) (got \(integer))")
        }
        return integer
    }

    public func number(_ key: String, positive: Bool = false) throws(Failure) -> Double? {
        guard let member = member(key) else { return nil }
        guard let number = member.numberValue?.doubleValue, number.isFinite else {
            throw fail(key, "must be a number, got \(kind(member))")
        }
        if positive && number <= 0 { throw fail(key, "must be above 0 (got \(number))") }
        return number
    }

    public func bool(_ key: String) throws(Failure) -> Bool? {
        guard let member = member(key) else { return nil }
        guard let bool = member.boolValue else {
            throw fail(key, "must be a boolean (true or false), got \(kind(member))")
        }
        return bool
    }

    /// A member that must be an object (a table in TOML).
    public func object(_ key: String) throws(Failure) -> DocumentReader? {
        guard let member = member(key) else { return nil }
        guard member.objectValue != nil else { throw fail(key, "must be \(kind(.object([:]))), got \(kind(member))") }
        return child(key)
    }

    /// A member that must be an array of objects; each reader's path is `key[N]`.
    public func objects(_ key: String) throws(Failure) -> [DocumentReader]? {
        guard let member = member(key) else { return nil }
        let what = objectName == "table" ? "an array of tables ([[\(key)]])" : "an array"
        guard let array = member.arrayValue else { throw fail(key, "must be \(what), got \(kind(member))") }
        return array.indices.map {
            DocumentReader(array[$0], path: "\(name(key))[\($0)]", objectName: objectName, failure: failure)
        }
    }
}

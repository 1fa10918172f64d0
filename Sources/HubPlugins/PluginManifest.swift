public import HubCore

/// A plugin's `manifest.json`: who it is, which hub API it speaks, what to run, and the device
/// types it provides. docs/plugins.md describes it; docs/plugin-manifest.schema.json is its
/// JSON Schema.
public struct PluginManifest: Sendable, Equatable {
    /// The plugin API this hub speaks. A manifest declares the range it supports.
    public static let hubAPIVersion = 1

    public var id: String
    public var name: String
    public var version: String
    public var apiRange: ClosedRange<Int>
    /// Relative to the plugin's folder; nil for a type-only manifest (devices that speak the
    /// shadow protocol on MQTT themselves).
    public var executable: String?
    public var arguments: [String]
    public var deviceTypes: [DeviceType]

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses and validates manifest bytes; `source` names the file in errors.
    public init(json bytes: [UInt8], source: String = "manifest.json") throws(Failure) {
        let document: JSONValue
        do {
            document = try JSONParser().parse(bytes)
        } catch {
            throw Failure(message: "\(source): not valid JSON (\(error))")
        }
        let root = Field(value: document, path: "", source: source)
        try root.onlyKeys(["id", "name", "version", "hubApi", "executable", "arguments", "deviceTypes", "description"])
        id = try root.string("id", pattern: "a-z, 0-9, '.', '_' and '-'") {
            $0.allSatisfy { $0.isLowercase || $0.isNumber || ".-_".contains($0) }
        }
        name = try root.string("name")
        version = try root.string("version")
        let api = try root.object("hubApi")
        try api.onlyKeys(["min", "max"])
        let minimum = try api.integer("min")
        let maximum = try api.integer("max")
        guard minimum <= maximum else { throw api.failure("min must not be above max (got \(minimum)...\(maximum))") }
        apiRange = minimum...maximum
        executable = try root.optionalString("executable")
        if let executable,
            executable.isEmpty || executable.hasPrefix("/") || executable.split(separator: "/").contains("..")
        {
            throw root.child("executable").failure("must be a path inside the plugin's folder (got '\(executable)')")
        }
        arguments = try root.optionalStrings("arguments") ?? []
        let types = try root.object("deviceTypes")
        guard case .object(let typeMembers) = types.value, !typeMembers.isEmpty else {
            throw types.failure("must declare at least one device type")
        }
        deviceTypes = []
        for key in typeMembers.keys {
            deviceTypes.append(try Self.deviceType(key, types.child(key)))
        }
    }

    public func supportsHubAPI(_ version: Int = PluginManifest.hubAPIVersion) -> Bool { apiRange.contains(version) }

    static func deviceType(_ name: String, _ field: Field) throws(Failure) -> DeviceType {
        try field.onlyKeys(["description", "shadows", "commands"])
        var shadows: [(name: String, attributes: [String: AttributeSchema])] = []
        let shadowList = try field.array("shadows")
        guard !shadowList.isEmpty else { throw field.child("shadows").failure("must declare at least one shadow") }
        for shadow in shadowList {
            try shadow.onlyKeys(["name", "attributes", "description"])
            let shadowName = try shadow.string("name")
            do {
                try ShadowNameRules.validateShadowName(shadowName)
            } catch {
                throw shadow.child("name").failure("is not a valid shadow name: \(error.message)")
            }
            guard !shadows.contains(where: { $0.name == shadowName }) else {
                throw shadow.child("name").failure("'\(shadowName)' is declared twice")
            }
            var attributes: [String: AttributeSchema] = [:]
            let attributeField = try shadow.object("attributes")
            for (attribute, _) in attributeField.value.objectValue ?? [:] {
                attributes[attribute] = try Self.attribute(attributeField.child(attribute))
            }
            shadows.append((shadowName, attributes))
        }
        var commands: [String: CommandSchema] = [:]
        if let commandField = try field.optionalObject("commands") {
            for (command, _) in commandField.value.objectValue ?? [:] {
                let entry = commandField.child(command)
                try entry.onlyKeys([
                    "parameters", "timeoutSeconds", "heartbeatSeconds", "idempotent", "sensitive", "description",
                    "verify",
                ])
                var parameters: [String: AttributeSchema] = [:]
                if let parameterField = try entry.optionalObject("parameters") {
                    for (parameter, _) in parameterField.value.objectValue ?? [:] {
                        parameters[parameter] = try Self.attribute(parameterField.child(parameter))
                    }
                }
                commands[command] = CommandSchema(
                    parameters: parameters,
                    timeoutSeconds: try entry.optionalNumber("timeoutSeconds", positive: true) ?? 30,
                    heartbeatSeconds: try entry.optionalNumber("heartbeatSeconds", positive: true) ?? 5,
                    idempotent: try entry.optionalBool("idempotent") ?? false,
                    sensitive: try entry.optionalBool("sensitive") ?? false,
                    description: try entry.optionalString("description"),
                    verify: try entry.optionalObject("verify")?.value.objectValue ?? [:])
            }
        }
        return DeviceType(
            name: name, description: try field.optionalString("description"), shadows: shadows, commands: commands)
    }

    static func attribute(_ field: Field) throws(Failure) -> AttributeSchema {
        try field.onlyKeys(["type", "min", "max", "step", "unit", "values", "writable", "description"])
        let typeName = try field.string("type")
        guard let kind = AttributeSchema.Kind(rawValue: typeName) else {
            throw field.child("type").failure(
                "must be one of \(AttributeSchema.Kind.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(typeName)')"
            )
        }
        let values = try field.optionalStrings("values") ?? []
        if kind == .enum && values.isEmpty {
            throw field.child("values").failure("is required for an enum: the allowed strings")
        }
        let minimum = try field.optionalNumber("min")
        let maximum = try field.optionalNumber("max")
        if let minimum, let maximum, minimum > maximum {
            throw field.failure("min must not be above max (got \(minimum) > \(maximum))")
        }
        return AttributeSchema(
            kind: kind, minimum: minimum, maximum: maximum, step: try field.optionalNumber("step", positive: true),
            unit: try field.optionalString("unit"), values: values,
            writable: try field.optionalBool("writable") ?? true,
            description: try field.optionalString("description"))
    }
}

/// A value in the manifest with its path, for errors like
/// `manifest.json: deviceTypes.heater.shadows[0].attributes.t.type must be …`.
struct Field {
    let value: JSONValue
    let path: String
    let source: String

    func child(_ key: String) -> Field {
        Field(value: value[key] ?? .null, path: path.isEmpty ? key : "\(path).\(key)", source: source)
    }

    func failure(_ rule: String) -> PluginManifest.Failure {
        PluginManifest.Failure(message: "\(source): \(path.isEmpty ? "the manifest" : "'\(path)'") \(rule)")
    }

    func onlyKeys(_ known: [String]) throws(PluginManifest.Failure) {
        guard case .object(let object) = value else { throw failure("must be an object") }
        for key in object.keys where !known.contains(key) {
            throw child(key).failure("is not a known key (known: \(known.joined(separator: ", ")))")
        }
    }

    func required(_ key: String) throws(PluginManifest.Failure) -> Field {
        guard value[key] != nil else { throw child(key).failure("is required") }
        return child(key)
    }

    func string(_ key: String, pattern: String? = nil, _ valid: (String) -> Bool = { _ in true }) throws(PluginManifest
        .Failure) -> String
    {
        let field = try required(key)
        guard let string = field.value.stringValue, !string.isEmpty else {
            throw field.failure("must be a non-empty string")
        }
        guard valid(string) else {
            throw field.failure("may only hold \(pattern ?? "valid characters") (got '\(string)')")
        }
        return string
    }

    func optionalString(_ key: String) throws(PluginManifest.Failure) -> String? {
        guard let member = value[key], !member.isNull else { return nil }
        guard let string = member.stringValue else { throw child(key).failure("must be a string") }
        return string
    }

    func optionalStrings(_ key: String) throws(PluginManifest.Failure) -> [String]? {
        guard let member = value[key], !member.isNull else { return nil }
        guard let array = member.arrayValue, array.allSatisfy({ $0.stringValue != nil }) else {
            throw child(key).failure("must be an array of strings")
        }
        return array.compactMap(\.stringValue)
    }

    func integer(_ key: String) throws(PluginManifest.Failure) -> Int {
        let field = try required(key)
        guard let integer = field.value.numberValue?.exactInteger else { throw field.failure("must be an integer") }
        return Int(integer)
    }

    func optionalNumber(_ key: String, positive: Bool = false) throws(PluginManifest.Failure) -> Double? {
        guard let member = value[key], !member.isNull else { return nil }
        guard let number = member.numberValue?.doubleValue else { throw child(key).failure("must be a number") }
        if positive && number <= 0 { throw child(key).failure("must be above 0 (got \(number))") }
        return number
    }

    func optionalBool(_ key: String) throws(PluginManifest.Failure) -> Bool? {
        guard let member = value[key], !member.isNull else { return nil }
        guard let bool = member.boolValue else { throw child(key).failure("must be true or false") }
        return bool
    }

    func object(_ key: String) throws(PluginManifest.Failure) -> Field {
        let field = try required(key)
        guard field.value.objectValue != nil else { throw field.failure("must be an object") }
        return field
    }

    func optionalObject(_ key: String) throws(PluginManifest.Failure) -> Field? {
        guard let member = value[key], !member.isNull else { return nil }
        guard member.objectValue != nil else { throw child(key).failure("must be an object") }
        return child(key)
    }

    func array(_ key: String) throws(PluginManifest.Failure) -> [Field] {
        let field = try required(key)
        guard let array = field.value.arrayValue else { throw field.failure("must be an array") }
        return array.indices.map { Field(value: array[$0], path: "\(field.path)[\($0)]", source: source) }
    }
}

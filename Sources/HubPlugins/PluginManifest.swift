public import HubCore

/// A plugin's `manifest.json`: who it is, which hub API it speaks, what to run, and the device
/// types it provides. docs/plugins.md describes it; docs/plugin-manifest.schema.json is its
/// JSON Schema.
public struct PluginManifest: Sendable, Equatable {
    /// The plugin API versions this hub speaks. A manifest declares the range it supports; the
    /// hub speaks the highest both know (`initialize`'s `apiVersion`). Version 2 adds bridges:
    /// `types.declare`, `things.register`, `things.gone` (docs/plugins.md); a version-1 plugin
    /// never sends them and works as before.
    public static let hubAPIVersions = 1...2

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
        let root = Field.manifest(document, source: source)
        try root.onlyKeys(["id", "name", "version", "hubApi", "executable", "arguments", "deviceTypes", "description"])
        id = try root.requiredString("id", pattern: "a-z, 0-9, '.', '_' and '-'") {
            $0.allSatisfy { $0.isLowercase || $0.isNumber || ".-_".contains($0) }
        }
        name = try root.requiredString("name")
        version = try root.requiredString("version")
        let api = try root.requiredObject("hubApi")
        try api.onlyKeys(["min", "max"])
        let minimum = try api.requiredInteger("min")
        let maximum = try api.requiredInteger("max")
        guard minimum <= maximum else { throw api.fail("min must not be above max (got \(minimum)...\(maximum))") }
        apiRange = minimum...maximum
        executable = try root.string("executable")
        if let executable,
            executable.isEmpty || executable.hasPrefix("/") || executable.split(separator: "/").contains("..")
        {
            throw root.fail("executable", "must be a path inside the plugin's folder (got '\(executable)')")
        }
        arguments = try root.strings("arguments") ?? []
        let types = try root.requiredObject("deviceTypes")
        guard case .object(let typeMembers) = types.value, !typeMembers.isEmpty else {
            throw types.fail("must declare at least one device type")
        }
        deviceTypes = []
        for key in typeMembers.keys {
            deviceTypes.append(try Self.deviceType(key, types.child(key)))
        }
    }

    public func supportsHubAPI(_ versions: ClosedRange<Int> = PluginManifest.hubAPIVersions) -> Bool {
        apiRange.overlaps(versions)
    }

    /// The version this hub and the plugin speak together.
    public var apiVersion: Int { min(apiRange.upperBound, Self.hubAPIVersions.upperBound) }

    /// A device type a bridge plugin declares at run time (`types.declare`): read and checked
    /// exactly as a manifest's, with errors that name `source` and the key path.
    public static func declaredType(_ name: String, _ definition: JSONValue, source: String) throws(Failure)
        -> DeviceType
    {
        guard !name.isEmpty, name.count <= 64,
            name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || "._-".contains($0)) })
        else {
            throw Failure(message: "\(source): type name '\(name)' must be 1–64 of a-z, 0-9, '.', '_' and '-'")
        }
        let root = Field(definition, path: name) { path, rule in
            Failure(message: "\(source): '\(path)' \(rule)")
        }
        return try deviceType(name, root)
    }

    static func deviceType(_ name: String, _ field: Field) throws(Failure) -> DeviceType {
        try field.onlyKeys(["description", "shadows", "commands", "homeAssistant"])
        var shadows: [(name: String, attributes: [String: AttributeSchema])] = []
        var sensitiveShadows: Set<String> = []
        let shadowList = try field.requiredArray("shadows")
        guard !shadowList.isEmpty else { throw field.fail("shadows", "must declare at least one shadow") }
        for shadow in shadowList {
            try shadow.onlyKeys(["name", "attributes", "description", "sensitive"])
            let shadowName = try shadow.requiredString("name")
            do {
                try ShadowNameRules.validateShadowName(shadowName)
            } catch {
                throw shadow.fail("name", "is not a valid shadow name: \(error.message)")
            }
            guard !shadows.contains(where: { $0.name == shadowName }) else {
                throw shadow.fail("name", "'\(shadowName)' is declared twice")
            }
            var attributes: [String: AttributeSchema] = [:]
            let attributeField = try shadow.requiredObject("attributes")
            for (attribute, _) in attributeField.value.objectValue ?? [:] {
                attributes[attribute] = try Self.attribute(attributeField.child(attribute))
            }
            shadows.append((shadowName, attributes))
            if try shadow.bool("sensitive") == true { sensitiveShadows.insert(shadowName) }
        }
        var commands: [String: CommandSchema] = [:]
        if let commandField = try field.object("commands") {
            for (command, _) in commandField.value.objectValue ?? [:] {
                let entry = commandField.child(command)
                try entry.onlyKeys([
                    "parameters", "timeoutSeconds", "heartbeatSeconds", "idempotent", "sensitive", "description",
                    "verify",
                ])
                var parameters: [String: AttributeSchema] = [:]
                if let parameterField = try entry.object("parameters") {
                    for (parameter, _) in parameterField.value.objectValue ?? [:] {
                        parameters[parameter] = try Self.attribute(parameterField.child(parameter))
                    }
                }
                commands[command] = CommandSchema(
                    parameters: parameters,
                    timeoutSeconds: try entry.number("timeoutSeconds", positive: true) ?? 30,
                    heartbeatSeconds: try entry.number("heartbeatSeconds", positive: true) ?? 5,
                    idempotent: try entry.bool("idempotent") ?? false,
                    sensitive: try entry.bool("sensitive") ?? false,
                    description: try entry.string("description"),
                    verify: try entry.object("verify")?.value.objectValue ?? [:])
            }
        }
        var type = DeviceType(
            name: name, description: try field.string("description"), shadows: shadows, commands: commands,
            sensitiveShadows: sensitiveShadows)
        if let declaration = try field.object("homeAssistant") {
            let mapping = try Self.homeAssistant(declaration)
            if let (key, rule) = mapping.problem(in: type) { throw declaration.fail(key, rule) }
            type.homeAssistant = mapping
        }
        return type
    }

    /// A device type's `homeAssistant` declaration (docs/plugins.md); checked against the type by
    /// ``HomeAssistantMapping/problem(in:)``.
    static func homeAssistant(_ field: Field) throws(Failure) -> HomeAssistantMapping {
        let component = try field.requiredString("component")
        let shadow = try field.requiredString("shadow")
        func map(_ key: String) throws(Failure) -> [String: String] {
            guard let object = try field.object(key) else { return [:] }
            var result: [String: String] = [:]
            for (name, value) in object.value.objectValue ?? [:] {
                guard let text = value.stringValue else { throw object.fail(name, "must be a string") }
                result[name] = text
            }
            return result
        }
        switch component {
        case "climate":
            try field.onlyKeys([
                "component", "shadow", "currentTemperature", "targetTemperature", "mode", "modes", "presets", "action",
            ])
            return .climate(
                .init(
                    shadow: shadow, currentTemperature: try field.string("currentTemperature"),
                    targetTemperature: try field.requiredString("targetTemperature"), mode: try field.string("mode"),
                    modes: try map("modes"), presets: try map("presets"), action: try field.string("action")))
        case "lock":
            try field.onlyKeys(["component", "shadow", "state", "lock", "unlock"])
            return .lock(
                .init(
                    shadow: shadow, state: try field.requiredString("state"),
                    lockCommand: try field.requiredString("lock"), unlockCommand: try field.requiredString("unlock")))
        case "cover":
            try field.onlyKeys(["component", "shadow", "position", "direction", "move", "stop"])
            return .cover(
                .init(
                    shadow: shadow, position: try field.requiredString("position"),
                    direction: try field.string("direction"), moveCommand: try field.string("move"),
                    stopCommand: try field.string("stop")))
        default:
            throw field.fail(
                "component",
                "must be climate, lock or cover (got '\(component)'); other types need no declaration: their attributes and commands appear by their schema"
            )
        }
    }

    static func attribute(_ field: Field) throws(Failure) -> AttributeSchema {
        try field.onlyKeys(["type", "min", "max", "step", "unit", "values", "writable", "description"])
        let typeName = try field.requiredString("type")
        guard let kind = AttributeSchema.Kind(rawValue: typeName) else {
            throw field.fail(
                "type",
                "must be one of \(AttributeSchema.Kind.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(typeName)')"
            )
        }
        let values = try field.strings("values") ?? []
        if kind == .enum && values.isEmpty {
            throw field.fail("values", "is required for an enum: the allowed strings")
        }
        let minimum = try field.number("min")
        let maximum = try field.number("max")
        if let minimum, let maximum, minimum > maximum {
            throw field.fail("min must not be above max (got \(minimum) > \(maximum))")
        }
        return AttributeSchema(
            kind: kind, minimum: minimum, maximum: maximum, step: try field.number("step", positive: true),
            unit: try field.string("unit"), values: values,
            writable: try field.bool("writable") ?? true,
            description: try field.string("description"))
    }
}

/// A value in the manifest with its path, for errors like
/// `manifest.json: 'deviceTypes.heater.shadows[0].attributes.t.type' must be …`.
typealias Field = DocumentReader<PluginManifest.Failure>

extension DocumentReader where Failure == PluginManifest.Failure {
    /// The root of a manifest read from `source`.
    static func manifest(_ document: JSONValue, source: String) -> Field {
        Field(document) { path, rule in
            PluginManifest.Failure(message: "\(source): \(path.isEmpty ? "the manifest" : "'\(path)'") \(rule)")
        }
    }

    func requiredObject(_ key: String) throws(Failure) -> Field {
        guard let object = try object(key) else { throw fail(key, "is required") }
        return object
    }

    func requiredArray(_ key: String) throws(Failure) -> [Field] {
        guard let array = try objects(key) else { throw fail(key, "is required") }
        return array
    }

    func requiredInteger(_ key: String) throws(Failure) -> Int {
        guard let integer = try integer(key) else { throw fail(key, "is required") }
        return integer
    }
}

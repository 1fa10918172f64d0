import HubCore

/// zigbee2mqtt's `exposes` (https://www.zigbee2mqtt.io/guide/usage/exposes.html) → a homehub
/// device type, as a manifest would declare it: one named shadow whose attributes are the
/// exposed properties, with their ranges, values and access; and for a lock, `lock`/`unlock`
/// commands that succeed when the lock reports `lock_state`.
///
/// Mapping:
///   numeric → number (integer when its step is whole): value_min, value_max, value_step, unit
///   binary  → boolean when its values are true/false or ON/OFF; otherwise an enum of the two
///   enum    → enum with its values
///   text    → string
///   climate, lock, cover, switch, light, fan → their features, flattened; the shadow is named
///     after the first of them (climate, lock, cover, else state)
///   access  → writable when settable (bit 2); published-only properties are read-only
/// A lock's shadow is sensitive, and so is its `unlock` command. Composite properties other
/// than those (a light's color, a schedule) are not mapped.
struct ExposedType: Equatable {
    /// How a property's value crosses between zigbee2mqtt and the shadow.
    enum Conversion: Equatable {
        case plain
        /// zigbee2mqtt's value_on / value_off ↔ true / false.
        case binary(on: JSONValue, off: JSONValue)
    }

    var name: String
    var shadow: String
    /// The definition as `types.declare` takes it.
    var definition: JSONValue
    var conversions: [String: Conversion]
    var isLock: Bool

    static let specific: [String: String] = [
        "climate": "climate", "lock": "lock", "cover": "cover", "switch": "state", "light": "state", "fan": "state",
    ]

    /// The type of a device, or nil when zigbee2mqtt exposes nothing homehub can map.
    init?(vendor: String, model: String, description: String?, exposes: [JSONValue]) {
        var shadow: String?
        var attributes: JSONObject = [:]
        var conversions: [String: Conversion] = [:]
        var isLock = false
        func add(_ expose: JSONValue) {
            guard let property = expose["property"]?.stringValue, !property.isEmpty, attributes[property] == nil,
                let kind = expose["type"]?.stringValue
            else { return }
            let access = expose["access"]?.integerValue ?? 1
            var attribute: JSONObject = ["writable": .bool(access & 2 != 0)]
            if let text = expose["description"]?.stringValue { attribute["description"] = .string(text) }
            switch kind {
            case "numeric":
                let step = expose["value_step"]?.numberValue?.doubleValue
                let whole = step.map { $0 >= 1 && $0 == $0.rounded() } ?? false
                attribute["type"] = whole ? "integer" : "number"
                if let minimum = expose["value_min"], minimum.numberValue != nil { attribute["min"] = minimum }
                if let maximum = expose["value_max"], maximum.numberValue != nil { attribute["max"] = maximum }
                if let step, step > 0 { attribute["step"] = .number(JSONNumber(step)) }
                if let unit = expose["unit"]?.stringValue { attribute["unit"] = .string(unit) }
                conversions[property] = .plain
            case "binary":
                guard let on = expose["value_on"], let off = expose["value_off"] else { return }
                let booleanLike = (on == true && off == false) || (on == "ON" && off == "OFF")
                if booleanLike {
                    attribute["type"] = "boolean"
                    conversions[property] = .binary(on: on, off: off)
                } else if let onText = on.stringValue, let offText = off.stringValue {
                    attribute["type"] = "enum"
                    attribute["values"] = [.string(onText), .string(offText)]
                    conversions[property] = .plain
                } else {
                    return
                }
            case "enum":
                let values = (expose["values"]?.arrayValue ?? []).compactMap(\.stringValue)
                guard !values.isEmpty else { return }
                attribute["type"] = "enum"
                attribute["values"] = .array(values.map(JSONValue.string))
                conversions[property] = .plain
            case "text":
                attribute["type"] = "string"
                conversions[property] = .plain
            default:
                return
            }
            attributes[property] = .object(attribute)
        }
        for expose in exposes {
            guard let kind = expose["type"]?.stringValue else { continue }
            if let name = Self.specific[kind] {
                if shadow == nil { shadow = name }
                if kind == "lock" { isLock = true }
                for feature in expose["features"]?.arrayValue ?? [] { add(feature) }
            } else {
                add(expose)
            }
        }
        guard !attributes.isEmpty else { return nil }
        let shadowName = shadow ?? "state"
        var shadowDefinition: JSONObject = ["name": .string(shadowName), "attributes": .object(attributes)]
        var type: JSONObject = [
            "description": .string("\(vendor) \(model)\(description.map { ": \($0)" } ?? "") (zigbee2mqtt)")
        ]
        if isLock, attributes["state"] != nil, attributes["lock_state"] != nil {
            shadowDefinition["sensitive"] = true
            shadowDefinition["description"] = "The bolt: changing it needs the sensitive role, on every path."
            type["commands"] = [
                "lock": [
                    "description": "Throw the bolt; succeeds when the lock reports lock_state 'locked'.",
                    "timeoutSeconds": 30, "heartbeatSeconds": 10, "idempotent": true, "sensitive": false,
                ],
                "unlock": [
                    "description": "Withdraw the bolt; succeeds when the lock reports lock_state 'unlocked'.",
                    "timeoutSeconds": 30, "heartbeatSeconds": 10, "idempotent": false, "sensitive": true,
                ],
            ]
        } else {
            isLock = false
        }
        type["shadows"] = [.object(shadowDefinition)]
        self.name = Self.typeName(vendor: vendor, model: model)
        self.shadow = shadowName
        self.definition = .object(type)
        self.conversions = conversions
        self.isLock = isLock
    }

    /// `z2m.VENDOR-MODEL` in the characters a declared type name may hold.
    static func typeName(vendor: String, model: String) -> String {
        let text = "\(vendor)-\(model)".lowercased()
        let cleaned = String(
            text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "_" })
        return "z2m." + String(cleaned.prefix(59))
    }

    /// zigbee2mqtt's state message → reported attributes (only the mapped ones).
    func reported(from state: JSONObject) -> JSONObject {
        var result: JSONObject = [:]
        for (property, value) in state {
            switch conversions[property] {
            case .plain?: result[property] = value
            case .binary(let on, _)?: result[property] = .bool(value == on)
            case nil: continue
            }
        }
        return result
    }

    /// Desired attributes → zigbee2mqtt's `/set` payload.
    func setPayload(from desired: JSONObject) -> JSONObject {
        var result: JSONObject = [:]
        for (property, value) in desired where !value.isNull {
            switch conversions[property] {
            case .plain?: result[property] = value
            case .binary(let on, let off)?: result[property] = value.boolValue == true ? on : off
            case nil: continue
            }
        }
        return result
    }
}

/// A thing name from a friendly name: `bedroom/trv 1` → `bedroom-trv-1` (thing names are
/// 1–128 of a-z A-Z 0-9 : _ -).
func thingName(fromFriendlyName name: String) -> String {
    var result = ""
    for character in name {
        let allowed = character.isASCII && (character.isLetter || character.isNumber || "_-:".contains(character))
        if allowed {
            result.append(character)
        } else if !result.hasSuffix("-") {
            result.append("-")
        }
    }
    while result.hasSuffix("-") { result.removeLast() }
    return String((result.isEmpty ? "device" : result).prefix(128))
}

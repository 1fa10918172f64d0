/// What the hub tells Home Assistant through MQTT discovery, and how it reads Home Assistant's
/// commands: pure functions of a device type and a thing's reported state, so that every rule
/// is testable without a broker (the daemon's HomeAssistantService does the I/O).
///
/// Topics (docs/home-assistant.md), with `P` the topic prefix (`homehub`) and `D` the discovery
/// prefix (`homeassistant`):
///   D/COMPONENT/NODE/THING_OBJECT/config  the entity's discovery config (retained)
///   P/THING/OBJECT/state                   its state (retained)
///   P/THING/OBJECT/set, P/THING/OBJECT/FIELD/set   Home Assistant's commands
///   P/THING/availability                   online | offline (retained)
///   P/status                               the hub: online, or offline by its last will
public struct HomeAssistantDiscovery: Sendable {
    public var discoveryPrefix: String
    public var topicPrefix: String
    /// The discovery node id: the topic prefix with every character outside [A-Za-z0-9_-] as '_'.
    public var nodeID: String
    public var hubVersion: String

    public init(discoveryPrefix: String, topicPrefix: String, hubVersion: String) {
        self.discoveryPrefix = discoveryPrefix
        self.topicPrefix = topicPrefix
        self.nodeID = Self.objectID(topicPrefix)
        self.hubVersion = hubVersion
    }

    /// One Home Assistant entity of a thing.
    public struct Entity: Sendable, Equatable {
        public enum Role: Sendable, Equatable {
            case mapped(HomeAssistantMapping)
            case attribute(shadow: String, name: String, schema: AttributeSchema)
            case button(command: String)
        }

        public var component: String
        /// Unique within the thing: the mapped component's name, `SHADOW_ATTRIBUTE`, or `command_NAME`.
        public var objectID: String
        public var role: Role
    }

    /// What a Home Assistant command asks for.
    public enum Action: Sendable, Equatable {
        /// A change of desired state.
        case desired(shadow: String, JSONObject)
        /// A command through the ledger.
        case command(String, parameters: JSONObject)
        /// A payload the entity does not take; the sentence says why.
        case invalid(String)
    }

    /// The device a thing appears as.
    public struct Device: Sendable {
        public var thing: String
        public var type: DeviceType
        public var pluginName: String?
        public var pluginVersion: String?

        public init(thing: String, type: DeviceType, pluginName: String?, pluginVersion: String?) {
            self.thing = thing
            self.type = type
            self.pluginName = pluginName
            self.pluginVersion = pluginVersion
        }
    }

    // MARK: - Entities

    /// The entities of a device type: its declared mapping, then one per attribute and command
    /// the mapping does not cover, by their schema.
    public static func entities(of type: DeviceType) -> [Entity] {
        var entities: [Entity] = []
        let mapping = type.homeAssistant
        if let mapping {
            entities.append(Entity(component: mapping.component, objectID: mapping.component, role: .mapped(mapping)))
        }
        for shadow in type.shadows {
            for (name, schema) in shadow.attributes.sorted(by: { $0.key < $1.key }) {
                if mapping?.shadow == shadow.name, mapping?.attributes.contains(name) == true { continue }
                // The lock's wanted position is what its commands set: no second control for it.
                if case .lock(let lock)? = mapping, lock.shadow == shadow.name, schema.writable,
                    schema.kind == .enum
                {
                    continue
                }
                entities.append(
                    Entity(
                        component: component(of: schema), objectID: objectID("\(shadow.name)_\(name)"),
                        role: .attribute(shadow: shadow.name, name: name, schema: schema)))
            }
        }
        for command in type.commands.keys.sorted() where mapping?.commands.contains(command) != true {
            entities.append(
                Entity(component: "button", objectID: objectID("command_\(command)"), role: .button(command: command)))
        }
        return entities
    }

    static func component(of schema: AttributeSchema) -> String {
        switch (schema.kind, schema.writable) {
        case (.number, true), (.integer, true): return "number"
        case (.enum, true): return "select"
        case (.boolean, true): return "switch"
        case (.string, true): return "text"
        case (.boolean, false): return "binary_sensor"
        case (_, false): return "sensor"
        }
    }

    /// `[A-Za-z0-9_-]`, as discovery topics and unique ids need; anything else becomes '_'.
    public static func objectID(_ text: String) -> String {
        String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? $0 : "_" })
    }

    // MARK: - Topics

    public var statusTopic: String { "\(topicPrefix)/status" }
    /// Where Home Assistant announces itself (`online` after each start).
    public var homeAssistantStatusTopic: String { "\(discoveryPrefix)/status" }

    public func availabilityTopic(_ thing: String) -> String { "\(topicPrefix)/\(thing)/availability" }
    public func stateTopic(_ thing: String, _ entity: Entity) -> String {
        "\(topicPrefix)/\(thing)/\(entity.objectID)/state"
    }
    func commandTopic(_ thing: String, _ entity: Entity, field: String? = nil) -> String {
        "\(topicPrefix)/\(thing)/\(entity.objectID)/\(field.map { "\($0)/" } ?? "")set"
    }
    public func configTopic(_ thing: String, _ entity: Entity) -> String {
        "\(discoveryPrefix)/\(entity.component)/\(nodeID)/\(Self.objectID(thing))_\(entity.objectID)/config"
    }
    /// The hub's own device's one entity: its connectivity.
    public var hubConfigTopic: String { "\(discoveryPrefix)/binary_sensor/\(nodeID)/hub/config" }
    /// Every config topic this hub may have published, for clearing those of things that are gone.
    public var configFilter: String { "\(discoveryPrefix)/+/\(nodeID)/+/config" }
    /// The command topics.
    public var commandFilters: [String] { ["\(topicPrefix)/+/+/set", "\(topicPrefix)/+/+/+/set"] }

    /// `P/THING/OBJECT[/FIELD]/set` → its parts.
    public func command(topic: String) -> (thing: String, objectID: String, field: String?)? {
        guard topic.hasPrefix(topicPrefix + "/"), topic.hasSuffix("/set") else { return nil }
        let levels = topic.dropFirst(topicPrefix.count + 1).dropLast(4).split(
            separator: "/", omittingEmptySubsequences: false)
        switch levels.count {
        case 2: return (String(levels[0]), String(levels[1]), nil)
        case 3: return (String(levels[0]), String(levels[1]), String(levels[2]))
        default: return nil
        }
    }

    // MARK: - Discovery configs

    /// The hub as a device, with one connectivity sensor that reads the hub's status topic.
    public func hubConfig() -> JSONValue {
        [
            "name": "Hub", "unique_id": .string("\(nodeID)_hub"), "device_class": "connectivity",
            "entity_category": "diagnostic",
            "state_topic": .string(statusTopic), "payload_on": "online", "payload_off": "offline",
            "device": [
                "identifiers": [.string(nodeID)], "name": "homehub", "manufacturer": "homehub",
                "model": "homehub hub", "sw_version": .string(hubVersion),
            ],
            "origin": origin,
        ]
    }

    var origin: JSONValue {
        ["name": "homehub", "sw_version": .string(hubVersion), "support_url": "https://github.com/homehub/homehub"]
    }

    /// The retained discovery config of one entity of a thing.
    public func config(_ entity: Entity, of device: Device) -> JSONValue {
        let thing = device.thing
        var config: JSONObject = [
            "unique_id": .string("\(nodeID)_\(Self.objectID(thing))_\(entity.objectID)"),
            "availability": [
                ["topic": .string(statusTopic)], ["topic": .string(availabilityTopic(thing))],
            ],
            "availability_mode": "all",
            "payload_available": "online", "payload_not_available": "offline",
            "device": [
                "identifiers": [.string("\(nodeID)_\(Self.objectID(thing))")], "name": .string(thing),
                "model": .string(device.type.name),
                "manufacturer": .string(device.pluginName ?? "homehub"),
                "sw_version": device.pluginVersion.map(JSONValue.string) ?? .null,
                "via_device": .string(nodeID),
            ],
            "origin": origin,
            "qos": 1,
        ]
        let state = JSONValue.string(stateTopic(thing, entity))
        switch entity.role {
        case .mapped(.climate(let climate)):
            config["name"] = .null
            config["temperature_unit"] = "C"
            config["current_temperature_topic"] = state
            config["current_temperature_template"] = "{{ value_json.current_temperature }}"
            config["temperature_state_topic"] = state
            config["temperature_state_template"] = "{{ value_json.temperature }}"
            config["temperature_command_topic"] = .string(commandTopic(thing, entity, field: "temperature"))
            if let schema = device.type.attributes(of: climate.shadow)?[climate.targetTemperature] {
                if let minimum = schema.minimum { config["min_temp"] = .number(JSONNumber(minimum)) }
                if let maximum = schema.maximum { config["max_temp"] = .number(JSONNumber(maximum)) }
                if let step = schema.step {
                    config["temp_step"] = .number(JSONNumber(step))
                    config["precision"] = .number(JSONNumber(step < 1 ? (step < 0.5 ? 0.1 : 0.5) : 1))
                }
            }
            if climate.mode != nil {
                config["modes"] = .array(Array(Set(climate.modes.values)).sorted().map(JSONValue.string))
                config["mode_state_topic"] = state
                config["mode_state_template"] = "{{ value_json.mode }}"
                config["mode_command_topic"] = .string(commandTopic(thing, entity, field: "mode"))
                if !climate.presets.isEmpty {
                    config["preset_modes"] = .array(Array(Set(climate.presets.values)).sorted().map(JSONValue.string))
                    config["preset_mode_state_topic"] = state
                    config["preset_mode_value_template"] = "{{ value_json.preset_mode }}"
                    config["preset_mode_command_topic"] = .string(commandTopic(thing, entity, field: "preset"))
                }
            } else {
                config["modes"] = ["heat"]
            }
            if climate.action != nil {
                config["action_topic"] = state
                config["action_template"] = "{{ value_json.action }}"
            }
        case .mapped(.lock):
            config["name"] = .null
            config["state_topic"] = state
            config["command_topic"] = .string(commandTopic(thing, entity))
            config["payload_lock"] = "LOCK"
            config["payload_unlock"] = "UNLOCK"
        case .mapped(.cover(let cover)):
            config["name"] = .null
            config["state_topic"] = state
            config["value_template"] = "{{ value_json.state }}"
            config["position_topic"] = state
            config["position_template"] = "{{ value_json.position }}"
            config["set_position_topic"] = .string(commandTopic(thing, entity, field: "position"))
            config["command_topic"] = .string(commandTopic(thing, entity))
            config["payload_open"] = "OPEN"
            config["payload_close"] = "CLOSE"
            config["payload_stop"] = cover.stopCommand == nil ? .null : "STOP"
            if let schema = device.type.attributes(of: cover.shadow)?[cover.position] {
                // Home Assistant takes whole numbers only here.
                config["position_open"] = .integer(Int64((schema.maximum ?? 100).rounded()))
                config["position_closed"] = .integer(Int64((schema.minimum ?? 0).rounded()))
            }
        case .attribute(_, let name, let schema):
            config["name"] = .string(Self.label(name))
            config["state_topic"] = state
            if schema.writable { config["command_topic"] = .string(commandTopic(thing, entity)) }
            switch entity.component {
            case "number":
                config["min"] = .number(JSONNumber(schema.minimum ?? -1_000_000))
                config["max"] = .number(JSONNumber(schema.maximum ?? 1_000_000))
                config["step"] = .number(JSONNumber(schema.step ?? (schema.kind == .integer ? 1 : 0.1)))
                config["mode"] = schema.minimum != nil && schema.maximum != nil ? "auto" : "box"
            case "select":
                config["options"] = .array(schema.values.map(JSONValue.string))
            case "sensor":
                if schema.kind == .enum {
                    config["device_class"] = "enum"
                    config["options"] = .array(schema.values.map(JSONValue.string))
                } else if schema.kind == .number || schema.kind == .integer {
                    config["state_class"] = "measurement"
                }
            default:
                break
            }
            if let unit = schema.unit {
                config["unit_of_measurement"] = .string(unit)
                if unit == "°C" || unit == "°F", schema.kind != .enum { config["device_class"] = "temperature" }
            }
        case .button(let command):
            config["name"] = .string(Self.label(command))
            config["command_topic"] = .string(commandTopic(thing, entity))
            config["payload_press"] = "PRESS"
        }
        return .object(config)
    }

    /// `targetTemperature` → `Target temperature`.
    static func label(_ name: String) -> String {
        var words: [String] = []
        var current = ""
        for character in name {
            if character == "_" || character == "-" {
                if !current.isEmpty { words.append(current) }
                current = ""
            } else if character.isUppercase, !current.isEmpty {
                words.append(current)
                current = String(character).lowercased()
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { words.append(current) }
        guard let first = words.first else { return name }
        return ([first.prefix(1).uppercased() + first.dropFirst()] + words.dropFirst()).joined(separator: " ")
    }

    // MARK: - State

    /// An entity's state payload from its thing's reported state (shadow name → reported), or
    /// nil when the device has reported nothing it shows yet.
    public static func state(of entity: Entity, reported: [String: JSONObject]) -> String? {
        switch entity.role {
        case .mapped(.climate(let climate)):
            let values = reported[climate.shadow] ?? [:]
            guard values[climate.targetTemperature] != nil || climate.currentTemperature.flatMap({ values[$0] }) != nil
            else { return nil }
            var state: JSONObject = [
                "current_temperature": climate.currentTemperature.flatMap { values[$0] } ?? .null,
                "temperature": values[climate.targetTemperature] ?? .null,
            ]
            let mode = climate.mode.flatMap { values[$0]?.stringValue }
            if climate.mode != nil {
                state["mode"] = mode.flatMap { climate.modes[$0] }.map(JSONValue.string) ?? .null
                if !climate.presets.isEmpty {
                    state["preset_mode"] = .string(mode.flatMap { climate.presets[$0] } ?? "none")
                }
            }
            if let action = climate.action {
                switch values[action]?.boolValue {
                case true?: state["action"] = "heating"
                case false?: state["action"] = mode.flatMap { climate.modes[$0] } == "off" ? "off" : "idle"
                case nil: state["action"] = .null
                }
            }
            return JSONValue.object(state).compactText
        case .mapped(.lock(let lock)):
            guard let value = reported[lock.shadow]?[lock.state]?.stringValue else { return nil }
            // Home Assistant's lock states; any other value (unknown) resets the entity to unknown.
            let known = ["locked", "unlocked", "locking", "unlocking", "jammed", "open", "opening"]
            return known.contains(value) ? value.uppercased() : "None"
        case .mapped(.cover(let cover)):
            let values = reported[cover.shadow] ?? [:]
            guard let value = values[cover.position], let position = value.numberValue?.doubleValue else { return nil }
            var state = "open"
            switch cover.direction.flatMap({ values[$0]?.stringValue }) {
            case "opening"?: state = "opening"
            case "closing"?: state = "closing"
            default: if position <= 0 { state = "closed" }
            }
            return JSONValue.object(["state": .string(state), "position": value]).compactText
        case .attribute(let shadow, let name, let schema):
            guard let value = reported[shadow]?[name], !value.isNull else { return nil }
            switch (value, schema.kind) {
            case (.bool(let on), _): return on ? "ON" : "OFF"
            case (.string(let text), _): return text
            default: return value.compactText
            }
        case .button:
            return nil
        }
    }

    // MARK: - Commands

    /// What a Home Assistant command on `field` (nil: the entity's own command topic) with
    /// `payload` asks of the thing.
    public static func action(
        for entity: Entity, field: String?, payload: String, type: DeviceType
    ) -> Action {
        let payload = payload.trimmingWhitespace()
        func number(_ name: String, shadow: String) -> Action {
            guard let schema = type.attributes(of: shadow)?[name] else {
                return .invalid("'\(name)' is not an attribute of shadow '\(shadow)'")
            }
            guard let value = Double(payload), value.isFinite else {
                return .invalid("'\(payload)' is not a number")
            }
            let json: JSONValue =
                schema.kind == .integer && value == value.rounded() && abs(value) < 1e15
                ? .integer(Int64(value)) : .number(JSONNumber(value))
            return .desired(shadow: shadow, [name: json])
        }
        switch (entity.role, field) {
        case (.mapped(.climate(let climate)), "temperature"?):
            return number(climate.targetTemperature, shadow: climate.shadow)
        case (.mapped(.climate(let climate)), "mode"?):
            guard let mode = climate.mode else { return .invalid("this thermostat has no modes") }
            // The plain value (not a preset) that shows as this HVAC mode.
            let candidates = climate.modes.filter { $0.value == payload }.map(\.key).sorted()
            guard let value = candidates.first(where: { climate.presets[$0] == nil }) ?? candidates.first else {
                return .invalid("'\(payload)' is not one of the modes \(Set(climate.modes.values).sorted())")
            }
            return .desired(shadow: climate.shadow, [mode: .string(value)])
        case (.mapped(.climate(let climate)), "preset"?):
            guard let mode = climate.mode else { return .invalid("this thermostat has no presets") }
            if payload == "none" {
                let plain = climate.modes.filter { climate.presets[$0.key] == nil && $0.value != "off" }.map(\.key)
                guard let value = plain.sorted().first else {
                    return .invalid("this thermostat has no mode without a preset")
                }
                return .desired(shadow: climate.shadow, [mode: .string(value)])
            }
            guard let value = climate.presets.first(where: { $0.value == payload })?.key else {
                return .invalid("'\(payload)' is not one of the presets \(climate.presets.values.sorted())")
            }
            return .desired(shadow: climate.shadow, [mode: .string(value)])
        case (.mapped(.lock(let lock)), nil):
            switch payload {
            case "LOCK": return .command(lock.lockCommand, parameters: [:])
            case "UNLOCK": return .command(lock.unlockCommand, parameters: [:])
            default: return .invalid("a lock takes LOCK or UNLOCK (got '\(payload)')")
            }
        case (.mapped(.cover(let cover)), "position"?):
            let wanted = number(cover.position, shadow: cover.shadow)
            guard let move = cover.moveCommand, case .desired(_, let values) = wanted else { return wanted }
            return .command(move, parameters: values)
        case (.mapped(.cover(let cover)), nil):
            let schema = type.attributes(of: cover.shadow)?[cover.position]
            func go(to value: Double) -> Action {
                let position: JSONValue = schema?.kind == .integer ? .integer(Int64(value)) : .number(JSONNumber(value))
                if let move = cover.moveCommand { return .command(move, parameters: [cover.position: position]) }
                return .desired(shadow: cover.shadow, [cover.position: position])
            }
            switch payload {
            case "OPEN": return go(to: schema?.maximum ?? 100)
            case "CLOSE": return go(to: schema?.minimum ?? 0)
            case "STOP":
                guard let stop = cover.stopCommand else { return .invalid("this cover cannot stop") }
                return .command(stop, parameters: [:])
            default: return .invalid("a cover takes OPEN, CLOSE or STOP (got '\(payload)')")
            }
        case (.attribute(let shadow, let name, let schema), nil):
            guard schema.writable else { return .invalid("'\(name)' is read-only") }
            switch schema.kind {
            case .number, .integer:
                return number(name, shadow: shadow)
            case .boolean:
                switch payload {
                case "ON": return .desired(shadow: shadow, [name: true])
                case "OFF": return .desired(shadow: shadow, [name: false])
                default: return .invalid("a switch takes ON or OFF (got '\(payload)')")
                }
            case .enum, .string:
                return .desired(shadow: shadow, [name: .string(payload)])
            }
        case (.button(let command), nil):
            return .command(command, parameters: [:])
        default:
            return .invalid("entity '\(entity.objectID)' has no command topic '\(field ?? "set")'")
        }
    }
}

extension String {
    /// Without leading and trailing whitespace.
    public func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}

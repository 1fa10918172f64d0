/// How a device type appears in Home Assistant, when its manifest says so (`homeAssistant` in a
/// device type; docs/plugins.md, docs/home-assistant.md). A type without a declaration still
/// appears: each attribute and command becomes an entity of its own by its schema
/// (``HomeAssistantDiscovery``).
public enum HomeAssistantMapping: Sendable, Equatable {
    case climate(Climate)
    case lock(Lock)
    case cover(Cover)

    /// A thermostat (Home Assistant's `climate`).
    public struct Climate: Sendable, Equatable {
        public var shadow: String
        /// A read-only number: the measured temperature.
        public var currentTemperature: String?
        /// A writable number with min, max and step: the setpoint.
        public var targetTemperature: String
        /// A writable enum: the device's mode.
        public var mode: String?
        /// Each value of `mode` → Home Assistant's HVAC mode (off, heat, cool, auto, dry, fan_only, heat_cool).
        public var modes: [String: String]
        /// Values of `mode` that Home Assistant shows as a preset (their HVAC mode is `modes`'s).
        public var presets: [String: String]
        /// A read-only boolean: heating now (true → `heating`, false → `idle`, or `off` when the mode is off).
        public var action: String?

        public init(
            shadow: String, currentTemperature: String?, targetTemperature: String, mode: String?,
            modes: [String: String], presets: [String: String], action: String?
        ) {
            self.shadow = shadow
            self.currentTemperature = currentTemperature
            self.targetTemperature = targetTemperature
            self.mode = mode
            self.modes = modes
            self.presets = presets
            self.action = action
        }
    }

    /// A lock (Home Assistant's `lock`): its state from an enum attribute, locking and unlocking
    /// through the type's commands (so through the command ledger).
    public struct Lock: Sendable, Equatable {
        public var shadow: String
        /// A read-only enum whose values include locked, unlocked, locking, unlocking, jammed.
        public var state: String
        public var lockCommand: String
        public var unlockCommand: String

        public init(shadow: String, state: String, lockCommand: String, unlockCommand: String) {
            self.shadow = shadow
            self.state = state
            self.lockCommand = lockCommand
            self.unlockCommand = unlockCommand
        }
    }

    /// A cover with a position (Home Assistant's `cover`): open, close and a position go to the
    /// move command (through the ledger, with the position as its parameter of the same name),
    /// or without one to the position attribute; stop is a command.
    public struct Cover: Sendable, Equatable {
        public var shadow: String
        /// A writable number or integer with min and max (max open, min closed).
        public var position: String
        /// A read-only enum with `opening` and `closing` among its values.
        public var direction: String?
        public var moveCommand: String?
        public var stopCommand: String?

        public init(shadow: String, position: String, direction: String?, moveCommand: String?, stopCommand: String?) {
            self.shadow = shadow
            self.position = position
            self.direction = direction
            self.moveCommand = moveCommand
            self.stopCommand = stopCommand
        }
    }

    /// Home Assistant's HVAC modes (homeassistant.components.climate.HVACMode).
    public static let hvacModes: Set<String> = ["off", "heat", "cool", "heat_cool", "auto", "dry", "fan_only"]

    /// Home Assistant's component: `climate`, `lock`, `cover`.
    public var component: String {
        switch self {
        case .climate: return "climate"
        case .lock: return "lock"
        case .cover: return "cover"
        }
    }

    public var shadow: String {
        switch self {
        case .climate(let climate): return climate.shadow
        case .lock(let lock): return lock.shadow
        case .cover(let cover): return cover.shadow
        }
    }

    /// The attributes the entity shows or drives (no entity of their own).
    public var attributes: Set<String> {
        switch self {
        case .climate(let c):
            return Set([c.currentTemperature, c.targetTemperature, c.mode, c.action].compactMap { $0 })
        case .lock(let lock):
            return [lock.state]
        case .cover(let cover):
            return Set([cover.position, cover.direction].compactMap { $0 })
        }
    }

    /// The commands the entity drives (no button of their own).
    public var commands: Set<String> {
        switch self {
        case .climate: return []
        case .lock(let lock): return [lock.lockCommand, lock.unlockCommand]
        case .cover(let cover): return Set([cover.moveCommand, cover.stopCommand].compactMap { $0 })
        }
    }

    /// Why the declaration does not fit the type it is declared in, or nil. The sentence names
    /// the key and the rule; the manifest reader prefixes the key path.
    public func problem(in type: DeviceType) -> (key: String, rule: String)? {
        guard let attributes = type.attributes(of: shadow) else {
            let known = type.shadows.map(\.name).joined(separator: ", ")
            return ("shadow", "names no shadow of this type (shadows: \(known))")
        }
        func check(_ key: String, _ name: String?, kinds: Set<AttributeSchema.Kind>, writable: Bool?)
            -> (key: String, rule: String)?
        {
            guard let name else { return nil }
            guard let schema = attributes[name] else {
                return (key, "names no attribute of shadow '\(shadow)' (got '\(name)')")
            }
            if !kinds.contains(schema.kind) {
                let wanted = kinds.map(\.rawValue).sorted().joined(separator: " or ")
                return (key, "must name an attribute of type \(wanted) ('\(name)' is \(schema.kind.rawValue))")
            }
            if let writable, schema.writable != writable {
                return (key, "must name a \(writable ? "writable" : "read-only") attribute ('\(name)' is not)")
            }
            return nil
        }
        func command(_ key: String, _ name: String?) -> (key: String, rule: String)? {
            guard let name, type.commands[name] == nil else { return nil }
            let known = type.commands.keys.sorted().joined(separator: ", ")
            return (key, "names no command of this type (got '\(name)'; commands: \(known.isEmpty ? "none" : known))")
        }
        switch self {
        case .climate(let c):
            if let problem =
                check("currentTemperature", c.currentTemperature, kinds: [.number, .integer], writable: nil)
                ?? check("targetTemperature", c.targetTemperature, kinds: [.number, .integer], writable: true)
                ?? check("mode", c.mode, kinds: [.enum], writable: true)
                ?? check("action", c.action, kinds: [.boolean], writable: false)
            {
                return problem
            }
            if let mode = c.mode, let values = attributes[mode]?.values {
                for value in values where c.modes[value] == nil {
                    return (
                        "modes", "must map every value of '\(mode)' to a Home Assistant HVAC mode (missing '\(value)')"
                    )
                }
                for (value, hvac) in c.modes {
                    if !values.contains(value) { return ("modes", "maps '\(value)', which is no value of '\(mode)'") }
                    if !Self.hvacModes.contains(hvac) {
                        return (
                            "modes",
                            "maps '\(value)' to '\(hvac)', which is no HVAC mode (\(Self.hvacModes.sorted().joined(separator: ", ")))"
                        )
                    }
                }
                for (value, preset) in c.presets {
                    if !values.contains(value) { return ("presets", "maps '\(value)', which is no value of '\(mode)'") }
                    if preset.isEmpty || preset == "none" {
                        return ("presets", "'\(value)': a preset may not be '' or 'none'")
                    }
                }
            } else if !c.modes.isEmpty || !c.presets.isEmpty {
                return ("mode", "is required with modes and presets")
            }
            return nil
        case .lock(let lock):
            if let problem = check("state", lock.state, kinds: [.enum], writable: nil) { return problem }
            let values = attributes[lock.state]?.values ?? []
            for needed in ["locked", "unlocked"] where !values.contains(needed) {
                return ("state", "must name an enum with the values 'locked' and 'unlocked' (missing '\(needed)')")
            }
            return command("lock", lock.lockCommand) ?? command("unlock", lock.unlockCommand)
        case .cover(let cover):
            if let problem = check("position", cover.position, kinds: [.number, .integer], writable: true)
                ?? check("direction", cover.direction, kinds: [.enum], writable: nil)
            {
                return problem
            }
            if let schema = attributes[cover.position], schema.minimum == nil || schema.maximum == nil {
                return ("position", "must name an attribute with min and max (closed and open)")
            }
            if let move = cover.moveCommand, let schema = type.commands[move],
                schema.parameters[cover.position] == nil
            {
                return ("move", "must name a command with a parameter '\(cover.position)' (the position)")
            }
            return command("move", cover.moveCommand) ?? command("stop", cover.stopCommand)
        }
    }
}

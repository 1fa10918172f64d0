import Foundation
import HubCore
import HubPlugins
import Testing

/// Home Assistant's discovery, rule by rule, from the bundled plugins' own manifests: what a
/// declaration must name, the entities of a type, their states and the commands they take.
struct HomeAssistantTests {
    static let plugins = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Plugins").path

    func bundled(_ plugin: String) throws -> DeviceType {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(Self.plugins)/\(plugin)/manifest.json")))
        return try #require(try PluginManifest(json: bytes).deviceTypes.first)
    }

    /// A one-type manifest with `declaration` as its type's `homeAssistant`.
    func manifest(_ declaration: String) -> String? {
        let text = """
            {"id": "t", "name": "t", "version": "1", "hubApi": {"min": 1, "max": 1}, "deviceTypes": {"valve": {
              "shadows": [{"name": "climate", "attributes": {
                "target": {"type": "number", "min": 5, "max": 30, "step": 0.5},
                "measured": {"type": "number", "writable": false},
                "mode": {"type": "enum", "values": ["off", "heat"]},
                "bolt": {"type": "enum", "values": ["locked", "unlocked"], "writable": false}}}],
              "commands": {"open": {}},
              "homeAssistant": \(declaration)}}}
            """
        do {
            _ = try PluginManifest(json: Array(text.utf8), source: "m.json")
            return nil
        } catch {
            return error.message
        }
    }

    @Test func aDeclarationMustFitItsType() {
        #expect(manifest(#"{"component": "climate", "shadow": "climate", "targetTemperature": "target"}"#) == nil)
        #expect(
            manifest(#"{"component": "climate", "shadow": "nope", "targetTemperature": "target"}"#)
                == "m.json: 'deviceTypes.valve.homeAssistant.shadow' names no shadow of this type (shadows: climate)")
        #expect(
            manifest(#"{"component": "climate", "shadow": "climate", "targetTemperature": "measured"}"#)
                == "m.json: 'deviceTypes.valve.homeAssistant.targetTemperature' must name a writable attribute ('measured' is not)"
        )
        #expect(
            manifest(
                #"{"component": "climate", "shadow": "climate", "targetTemperature": "target", "mode": "mode", "modes": {"off": "off"}}"#
            )?.contains("must map every value of 'mode' to a Home Assistant HVAC mode (missing 'heat')") == true)
        #expect(
            manifest(
                #"{"component": "climate", "shadow": "climate", "targetTemperature": "target", "mode": "mode", "modes": {"off": "off", "heat": "warm"}}"#
            )?.contains("maps 'heat' to 'warm', which is no HVAC mode") == true)
        #expect(
            manifest(#"{"component": "lock", "shadow": "climate", "state": "bolt", "lock": "open", "unlock": "shut"}"#)
                == "m.json: 'deviceTypes.valve.homeAssistant.unlock' names no command of this type (got 'shut'; commands: open)"
        )
        #expect(
            manifest(#"{"component": "cover", "shadow": "climate", "position": "measured"}"#)?.contains(
                "must name a writable attribute") == true)
        #expect(
            manifest(#"{"component": "fan", "shadow": "climate"}"#)?.contains(
                "must be climate, lock or cover (got 'fan')")
                == true)
        #expect(
            manifest(
                #"{"component": "lock", "shadow": "climate", "state": "bolt", "lock": "open", "unlock": "open", "x": 1}"#
            )?
            .contains("'deviceTypes.valve.homeAssistant.x' is not a known key") == true)
    }

    @Test func theHeaterIsAThermostatWithItsBoostAsAButton() throws {
        let heater = try bundled("heater")
        let entities = HomeAssistantDiscovery.entities(of: heater)
        #expect(entities.map(\.component) == ["climate", "sensor", "button"])
        #expect(entities.map(\.objectID) == ["climate", "climate_boostUntil", "command_boost"])
        let discovery = HomeAssistantDiscovery(
            discoveryPrefix: "homeassistant", topicPrefix: "home/hub", hubVersion: "9")
        #expect(discovery.nodeID == "home_hub")
        #expect(
            discovery.configTopic("living:room", entities[0])
                == "homeassistant/climate/home_hub/living_room_climate/config")
        let config = discovery.config(
            entities[0], of: .init(thing: "livingroom", type: heater, pluginName: "Heater", pluginVersion: "1.2"))
        #expect(config["min_temp"] == 5 && config["max_temp"] == 30 && config["temp_step"] == 0.5)
        #expect(config["modes"] == ["heat", "off"] && config["preset_modes"] == ["eco"])
        #expect(config["device"]?["sw_version"] == "1.2" && config["device"]?["via_device"] == "home_hub")

        let climate = entities[0]
        let state = HomeAssistantDiscovery.state(
            of: climate,
            reported: [
                "climate": ["targetTemperature": 21, "currentTemperature": 19.5, "mode": "eco", "heating": true]
            ])
        #expect(
            state.flatMap { try? JSONParser().parse(Array($0.utf8)) }
                == [
                    "current_temperature": 19.5, "temperature": 21, "mode": "heat", "preset_mode": "eco",
                    "action": "heating",
                ])
        let off = HomeAssistantDiscovery.state(
            of: climate, reported: ["climate": ["targetTemperature": 21, "mode": "off", "heating": false]])
        #expect(off?.contains(#""action":"off""#) == true)
        #expect(HomeAssistantDiscovery.state(of: climate, reported: [:]) == nil)

        func action(_ field: String?, _ payload: String) -> HomeAssistantDiscovery.Action {
            HomeAssistantDiscovery.action(for: climate, field: field, payload: payload, type: heater)
        }
        #expect(action("temperature", "22.5") == .desired(shadow: "climate", ["targetTemperature": 22.5]))
        #expect(action("temperature", "warm") == .invalid("'warm' is not a number"))
        #expect(action("mode", "heat") == .desired(shadow: "climate", ["mode": "heat"]))
        #expect(action("mode", "cool") == .invalid("'cool' is not one of the modes [\"heat\", \"off\"]"))
        #expect(action("preset", "eco") == .desired(shadow: "climate", ["mode": "eco"]))
        #expect(action("preset", "none") == .desired(shadow: "climate", ["mode": "heat"]))
        #expect(
            HomeAssistantDiscovery.action(for: entities[2], field: nil, payload: "PRESS", type: heater)
                == .command("boost", parameters: [:]))
    }

    @Test func theDoorIsALockDrivenByItsCommands() throws {
        let door = try bundled("doorlock")
        let entities = HomeAssistantDiscovery.entities(of: door)
        // lockState and the lock/unlock commands are the lock's; so is the wanted position.
        #expect(entities.map(\.component) == ["lock"])
        let lock = entities[0]
        #expect(HomeAssistantDiscovery.state(of: lock, reported: ["lock": ["lockState": "unlocking"]]) == "UNLOCKING")
        #expect(HomeAssistantDiscovery.state(of: lock, reported: ["lock": ["lockState": "unknown"]]) == "None")
        #expect(
            HomeAssistantDiscovery.action(for: lock, field: nil, payload: "UNLOCK", type: door)
                == .command("unlock", parameters: [:]))
        #expect(
            HomeAssistantDiscovery.action(for: lock, field: nil, payload: "OPEN", type: door)
                == .invalid("a lock takes LOCK or UNLOCK (got 'OPEN')"))
    }

    @Test func theBlindIsACoverThatMovesThroughTheLedger() throws {
        let motor = try bundled("motor")
        let entities = HomeAssistantDiscovery.entities(of: motor)
        #expect(entities.map(\.component) == ["cover", "binary_sensor"])
        let cover = entities[0]
        func state(_ values: JSONObject) -> String? {
            HomeAssistantDiscovery.state(of: cover, reported: ["position": values])
        }
        #expect(state(["position": 0, "direction": "stopped"]) == #"{"state":"closed","position":0}"#)
        #expect(state(["position": 30, "direction": "closing"]) == #"{"state":"closing","position":30}"#)
        #expect(state(["position": 30, "direction": "stopped"]) == #"{"state":"open","position":30}"#)
        func action(_ field: String?, _ payload: String) -> HomeAssistantDiscovery.Action {
            HomeAssistantDiscovery.action(for: cover, field: field, payload: payload, type: motor)
        }
        #expect(action(nil, "OPEN") == .command("move", parameters: ["position": 100]))
        #expect(action(nil, "CLOSE") == .command("move", parameters: ["position": 0]))
        #expect(action(nil, "STOP") == .command("stop", parameters: [:]))
        #expect(action("position", "40") == .command("move", parameters: ["position": 40]))
    }

    @Test func withoutADeclarationEveryAttributeAppearsByItsSchema() {
        let type = DeviceType(
            name: "plug",
            shadows: [
                (
                    "state",
                    [
                        "on": AttributeSchema(kind: .boolean),
                        "level": AttributeSchema(kind: .integer, minimum: 0, maximum: 10, step: 1),
                        "scene": AttributeSchema(kind: .enum, values: ["a", "b"]),
                        "power": AttributeSchema(kind: .number, unit: "W", writable: false),
                        "label": AttributeSchema(kind: .string),
                    ]
                )
            ], commands: ["reset": CommandSchema(parameters: [:], timeoutSeconds: 5, heartbeatSeconds: 1)])
        let entities = HomeAssistantDiscovery.entities(of: type)
        #expect(
            entities.map { "\($0.component):\($0.objectID)" } == [
                "text:state_label", "number:state_level", "switch:state_on", "sensor:state_power", "select:state_scene",
                "button:command_reset",
            ])
        let on = entities[2]
        #expect(HomeAssistantDiscovery.state(of: on, reported: ["state": ["on": true]]) == "ON")
        #expect(
            HomeAssistantDiscovery.action(for: on, field: nil, payload: "OFF", type: type)
                == .desired(shadow: "state", ["on": false]))
        #expect(
            HomeAssistantDiscovery.action(for: entities[1], field: nil, payload: "7", type: type)
                == .desired(shadow: "state", ["level": 7]))
        #expect(
            HomeAssistantDiscovery.action(for: entities[3], field: nil, payload: "5", type: type)
                == .invalid("'power' is read-only"))
        let discovery = HomeAssistantDiscovery(discoveryPrefix: "ha", topicPrefix: "homehub", hubVersion: "1")
        #expect(discovery.command(topic: "homehub/plug1/state_on/set")! == ("plug1", "state_on", nil))
        #expect(discovery.command(topic: "homehub/room/climate/temperature/set")! == ("room", "climate", "temperature"))
        #expect(discovery.command(topic: "homehub/status") == nil)
        let power = discovery.config(
            entities[3], of: .init(thing: "plug1", type: type, pluginName: nil, pluginVersion: nil))
        #expect(
            power["unit_of_measurement"] == "W" && power["state_class"] == "measurement"
                && power["command_topic"] == nil)
    }
}

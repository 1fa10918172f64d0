import Foundation
import HubCore
import HubPlugins
import Testing

struct ManifestTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        .path

    func problem(_ folder: String) -> String? {
        if case .failure(let problem) = PluginCatalog.check("\(Self.fixtures)/\(folder)") { return problem.reason }
        return nil
    }

    @Test func goodManifestParsesWithItsTypesAndCommands() throws {
        guard case .success(let plugin) = PluginCatalog.check("\(Self.fixtures)/good") else {
            Issue.record("good fixture was rejected: \(problem("good") ?? "")")
            return
        }
        #expect(plugin.manifest.id == "test.good")
        #expect(plugin.executablePath?.hasSuffix("/good/run.sh") == true)
        let type = try #require(plugin.manifest.deviceTypes.first)
        #expect(type.name == "thermostat" && type.primaryShadow == "climate")
        #expect(
            type.attributes(of: "climate")?["target"]
                == AttributeSchema(kind: .number, minimum: 5, maximum: 30, step: 0.5, unit: "°C"))
        #expect(type.commands["unlock"]?.sensitive == true && type.commands["unlock"]?.heartbeatSeconds == 1)
    }

    @Test func brokenFoldersAreReportedWithTheReason() {
        #expect(problem("broken-json")?.contains("not valid JSON") == true)
        #expect(problem("missing-executable")?.contains("does not exist") == true)
        #expect(problem("escaping-executable")?.contains("outside the plugin's folder") == true)
        #expect(problem("wrong-api")?.contains("supports hub API 3…4; this hub speaks 1…2") == true)
        #expect(
            problem("bad-attribute")?.contains(
                "'deviceTypes.t5.shadows[0].attributes.count.type' must be one of number, integer, boolean, string, enum (got 'float')"
            ) == true)
    }

    @Test func aDeclaredTypeIsCheckedAsAManifestsIs() throws {
        let good: JSONValue = [
            "shadows": [
                [
                    "name": "climate",
                    "attributes": ["setpoint": ["type": "number", "min": 5, "max": 35, "step": 0.5]],
                ]
            ]
        ]
        let type = try PluginManifest.declaredType("z2m.danfoss-014g2461", good, source: "types.declare")
        #expect(type.attributes(of: "climate")?["setpoint"]?.maximum == 35)
        func problem(_ name: String, _ definition: JSONValue) -> String? {
            do {
                _ = try PluginManifest.declaredType(name, definition, source: "types.declare")
                return nil
            } catch {
                return error.message
            }
        }
        #expect(
            problem("Bad Name", good)
                == "types.declare: type name 'Bad Name' must be 1–64 of a-z, 0-9, '.', '_' and '-'")
        #expect(
            problem("t", ["shadows": [["name": "s", "attributes": ["a": ["type": "float"]]]]])
                == "types.declare: 't.shadows[0].attributes.a.type' must be one of number, integer, boolean, string, enum (got 'float')"
        )
        #expect(problem("t", ["shadows": []]) == "types.declare: 't.shadows' must declare at least one shadow")
    }

    @Test func typeOnlyManifestHasNoExecutable() {
        guard case .success(let plugin) = PluginCatalog.check("\(Self.fixtures)/type-only") else {
            Issue.record("type-only fixture rejected")
            return
        }
        #expect(plugin.executablePath == nil)
    }

    @Test func discoveryLoadsTheGoodAndSkipsTheBroken() {
        let (plugins, problems) = PluginCatalog.discover(in: [Self.fixtures, "/nonexistent"])
        #expect(Set(plugins.map(\.manifest.id)) == ["test.good", "test.typeonly"])
        #expect(problems.count == 5)
    }

    @Test(arguments: [
        (
            #"{"name":"x","version":"1","hubApi":{"min":1,"max":1},"deviceTypes":{"a":{"shadows":[{"name":"s","attributes":{}}]}}}"#,
            "'id' is required"
        ),
        (#"{"id":"X Y","name":"x","version":"1","hubApi":{"min":1,"max":1},"deviceTypes":{}}"#, "'id' may only hold"),
        (
            #"{"id":"x","name":"x","version":"1","hubApi":{"min":1,"max":1},"deviceTypes":{}}"#,
            "must declare at least one device type"
        ),
        (
            #"{"id":"x","name":"x","version":"1","hubApi":{"min":1,"max":1},"executable":"../up","deviceTypes":{"a":{"shadows":[{"name":"s","attributes":{}}]}}}"#,
            "must be a path inside the plugin's folder"
        ),
        (
            #"{"id":"x","name":"x","version":"1","hubApi":{"min":1,"max":1},"deviceTypes":{"a":{"shadows":[{"name":"s","attributes":{"e":{"type":"enum"}}}]}}}"#,
            "is required for an enum"
        ),
        (
            #"{"id":"x","name":"x","version":"1","hubApi":{"min":1,"max":1},"surprise":1,"deviceTypes":{"a":{"shadows":[{"name":"s","attributes":{}}]}}}"#,
            "'surprise' is not a known key"
        ),
    ])
    func invalidManifestsNameTheFieldAndTheRule(_ json: String, _ expected: String) {
        do {
            _ = try PluginManifest(json: Array(json.utf8))
            Issue.record("accepted: \(json)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }
}

struct DeviceTypeValidationTests {
    let type = DeviceType(
        name: "heater",
        shadows: [
            (
                "climate",
                [
                    "targetTemperature": AttributeSchema(kind: .number, minimum: 5, maximum: 30, step: 0.5),
                    "mode": AttributeSchema(kind: .enum, values: ["off", "heat", "eco"]),
                    "count": AttributeSchema(kind: .integer),
                    "on": AttributeSchema(kind: .boolean),
                    "currentTemperature": AttributeSchema(kind: .number, writable: false),
                ]
            )
        ])

    func message(_ desired: JSONObject, shadow: String? = "climate") -> String? {
        do {
            try type.validateDesired(desired, shadow: shadow, thing: "living-room")
            return nil
        } catch {
            #expect(error.code == 400)
            return error.message
        }
    }

    @Test func everyRuleNamesTheThingTheAttributeTheRuleAndTheValue() {
        #expect(
            message(["targetTemperature": 45])
                == "attribute 'targetTemperature' of heater 'living-room' must be between 5 and 30 (got 45)")
        #expect(
            message(["targetTemperature": 21.3])
                == "attribute 'targetTemperature' of heater 'living-room' must be in steps of 0.5 from 5 (got 21.3)")
        #expect(
            message(["targetTemperature": "21"])
                == "attribute 'targetTemperature' of heater 'living-room' must be a number (got \"21\")")
        #expect(
            message(["mode": "turbo"])
                == "attribute 'mode' of heater 'living-room' must be one of 'off', 'heat', 'eco' (got \"turbo\")")
        #expect(message(["count": 1.5]) == "attribute 'count' of heater 'living-room' must be a whole number (got 1.5)")
        #expect(message(["on": 1]) == "attribute 'on' of heater 'living-room' must be true or false (got 1)")
        #expect(
            message(["currentTemperature": 20])
                == "attribute 'currentTemperature' of heater 'living-room' is read-only (got 20)")
        #expect(
            message(["colour": "red"])?.hasPrefix("heater 'living-room' has no attribute 'colour' in shadow 'climate'")
                == true)
    }

    @Test func validValuesNullsAndOtherShadowsPass() {
        #expect(message(["targetTemperature": 21.5, "mode": "eco", "count": 3, "on": true]) == nil)
        #expect(message(["targetTemperature": 21.0]) == nil)
        #expect(message(["targetTemperature": nil]) == nil)
        #expect(message(["anything": 1], shadow: "other") == nil)
        #expect(message(["anything": 1], shadow: nil) == nil)
    }
}

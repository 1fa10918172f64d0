import Foundation
import HubCore
import Testing

/// The TOML reader homehub's configuration goes through (it replaced TOMLKit, which linked full
/// Foundation into homehubd).
struct TOMLTests {
    @Test func readsEveryKindOfValueTheConfigurationUses() throws {
        let table = try TOML.parse(
            """
            # a comment
            title = "hub" # trailing comment
            [hub]
            data_dir = '/var/lib/homehub'
            port = 1_884
            ratio = 0.5
            big = 6.02e23
            hex = 0xff
            enabled = true
            dirs = ["a", "b",
                    "c",]  # over lines, trailing comma
            escaped = "tab\\there \\u00e9 \\"q\\""
            multi = \"\"\"
            two
            lines\"\"\"
            dotted.key = -3
            "quoted key" = 1
            when = 1979-05-27T07:32:00Z

            [[things]]
            name = "frontdoor"
            config = { moveSeconds = 2.0, nested = { a = 1 } }

            [[things]]
            name = "blind"
            """)
        let hub = try #require(table["hub"])
        guard case .table(let values) = hub else {
            Issue.record("hub is not a table")
            return
        }
        #expect(table["title"] == .string("hub"))
        #expect(values["data_dir"] == .string("/var/lib/homehub"))
        #expect(values["port"] == .integer(1884))
        #expect(values["ratio"] == .double(0.5))
        #expect(values["big"] == .double(6.02e23))
        #expect(values["hex"] == .integer(255))
        #expect(values["enabled"] == .bool(true))
        #expect(values["dirs"] == .array([.string("a"), .string("b"), .string("c")]))
        #expect(values["escaped"] == .string("tab\there é \"q\""))
        #expect(values["multi"] == .string("two\nlines"))
        #expect(values["dotted"] == .table(["key": .integer(-3)]))
        #expect(values["quoted key"] == .integer(1))
        #expect(values["when"] == .dateTime("1979-05-27T07:32:00Z"))
        let things = try #require(table["things"])
        #expect(
            things.json == [
                ["name": "frontdoor", "config": ["moveSeconds": 2.0, "nested": ["a": 1]]], ["name": "blind"],
            ])
    }

    @Test(arguments: [
        ("a = 1\na = 2", "defined twice", 2),
        ("[x]\n[x]", "defined twice", 2),
        ("a = hello", "strings need quotes", 1),
        ("a = \"open", "not closed", 1),
        ("a = [1, 2", "expected ',' or ']'", 1),
        ("a = 1 b = 2", "end of the line", 1),
        ("\n\nport = 01", "leading zeros", 3),
        ("a = { b = 1 }\na.c = 2", "inline table", 2),
        ("a = 1\n[[a]]", "not an array of tables", 2),
        ("s = \"bad \\q escape\"", "unknown escape", 1),
    ])
    func errorsSayWhatAndWhere(_ text: String, _ expected: String, _ line: Int) {
        do {
            _ = try TOML.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains(expected), "\(error)")
            #expect(error.line == line, "\(error)")
        }
    }

    @Test(arguments: ["config/hub.toml", "config/demo.toml"])
    func theShippedConfigurationsParse(_ path: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
        let table = try TOML.parse(text)
        #expect(table["hub"] != nil && table["things"] != nil)
    }
}

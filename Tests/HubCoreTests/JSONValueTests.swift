import HubCore
import Testing

struct JSONValueTests {
    let parser = JSONParser()

    @Test func integersStayIntegersAndNumbersEchoAsSent() throws {
        let value = try parser.parse(#"{"i":21,"f":21.0,"e":1E+2,"big":123456789012345678901234,"neg":-0.5}"#)
        #expect(value.compactText == #"{"i":21,"f":21.0,"e":1E+2,"big":123456789012345678901234,"neg":-0.5}"#)
        if case .integer(21)? = value["i"]?.numberValue?.value {} else { Issue.record("21 is not an integer") }
        if case .double? = value["f"]?.numberValue?.value {} else { Issue.record("21.0 is not a double") }
    }

    @Test func numbersCompareByValue() throws {
        #expect(try parser.parse("1") == parser.parse("1.0"))
        #expect(try parser.parse("100") == parser.parse("1e2"))
        #expect(try parser.parse("1") != parser.parse("1.5"))
        #expect(try parser.parse("9007199254740993") != parser.parse("9007199254740992"))
    }

    @Test func objectsKeepKeyOrderButCompareUnordered() throws {
        let value = try parser.parse(#"{"z":1,"a":2}"#)
        #expect(value.compactText == #"{"z":1,"a":2}"#)
        #expect(value == (try parser.parse(#"{"a":2,"z":1}"#)))
        #expect(value != (try parser.parse(#"{"a":2}"#)))
    }

    @Test func stringsRoundTripWithEscapes() throws {
        let value = try parser.parse(#"["a\"b\\c\/d\n\u00e9\ud83d\ude00\u0001"]"#)
        #expect(value == ["a\"b\\c/d\né😀\u{01}"])
        #expect(value.compactText == #"["a\"b\\c/d\né😀\u0001"]"#)
        #expect(try parser.parse(value.compactText) == value)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":}", "01", "1.", "-", "tru", "\"\\x\"", "\"\\ud800\"", "\"a\u{01}\"", "{\"a\" 1}",
        "1 2",
        "NaN", "1e999",
    ])
    func invalidTextIsASyntaxError(_ text: String) {
        #expect(throws: JSONParser.Failure.self) { try parser.parse(text) }
        do {
            _ = try parser.parse(text)
        } catch {
            #expect(error.kind == .syntax)
        }
    }

    @Test func invalidUTF8IsItsOwnFailure() {
        do {
            _ = try parser.parse([0x22, 0xC3, 0x28, 0x22])
            Issue.record("accepted invalid UTF-8")
        } catch {
            #expect(error.kind == .invalidUTF8)
        }
    }

    @Test func nestingBeyondTheParserLimitIsTooDeep() {
        do {
            _ = try JSONParser(maximumNesting: 3).parse("[[[[1]]]]")
            Issue.record("accepted 4 levels with a limit of 3")
        } catch {
            #expect(error.kind == .tooDeep)
        }
        #expect((try? JSONParser(maximumNesting: 3).parse("[[[1]]]")) != nil)
    }

    @Test func repeatedKeyKeepsTheLastValue() throws {
        #expect(try parser.parse(#"{"a":1,"b":2,"a":3}"#).compactText == #"{"a":3,"b":2}"#)
    }
}

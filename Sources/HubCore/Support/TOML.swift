public import OrderedCollections

/// A TOML 1.0 document, as homehub's configuration uses it: tables, arrays of tables, dotted
/// and quoted keys, strings (basic, literal, multi-line), integers (decimal, hex, octal,
/// binary, with `_`), floats, booleans, arrays and inline tables. Dates and times are kept as
/// their text (homehub has no date-valued settings).
///
/// Written here rather than taken from TOMLKit because TOMLKit links full Foundation, whose
/// ICU data made homehubd 45 MB larger (docs/packaging.md).
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case double(Double)
    case bool(Bool)
    case dateTime(String)
    case array([TOMLValue])
    case table(OrderedDictionary<String, TOMLValue>)

    public var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .double: return "a number"
        case .bool: return "a boolean"
        case .dateTime: return "a date or time"
        case .array: return "an array"
        case .table: return "a table"
        }
    }

    /// The value as JSON (device configuration is passed on as JSON).
    public var json: JSONValue {
        switch self {
        case .string(let value), .dateTime(let value): return .string(value)
        case .integer(let value): return .integer(value)
        case .double(let value): return value.isFinite ? .number(JSONNumber(value)) : .null
        case .bool(let value): return .bool(value)
        case .array(let values): return .array(values.map(\.json))
        case .table(let table):
            var object = JSONObject()
            for (key, value) in table { object[key] = value.json }
            return .object(object)
        }
    }
}

public enum TOML {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var line: Int
        public var column: Int
        public var description: String { "\(message) at line \(line), column \(column)" }
    }

    public typealias Table = OrderedDictionary<String, TOMLValue>

    /// Parses a whole document into its root table.
    public static func parse(_ text: String) throws(Failure) -> Table {
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.document()
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0
        var root = Table()
        /// The path of the current `[table]` or `[[array]]` header.
        var current: [String] = []
        /// Tables defined by a header or by dotted keys, and arrays of tables (by joined path).
        var defined: Set<String> = []
        var arraysOfTables: Set<String> = []
        var inlineTables: Set<String> = []

        init(bytes: [UInt8]) { self.bytes = bytes }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        func failure(_ message: String) -> Failure {
            var line = 1
            var column = 1
            for byte in bytes[..<min(index, bytes.count)] {
                if byte == 0x0A {
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {
                    column += 1
                }
            }
            return Failure(message: message, line: line, column: column)
        }

        mutating func skipSpaces() {
            while let byte = peek, byte == 0x20 || byte == 0x09 { index += 1 }
        }

        mutating func skipComment() {
            if peek == UInt8(ascii: "#") { while let byte = peek, byte != 0x0A { index += 1 } }
        }

        /// Spaces, comments and new lines (inside arrays).
        mutating func skipBlank() {
            while true {
                skipSpaces()
                skipComment()
                if peek == 0x0A || peek == 0x0D { index += 1 } else { return }
            }
        }

        mutating func endOfLine() throws(Failure) {
            skipSpaces()
            skipComment()
            if peek == 0x0D { index += 1 }
            guard peek == nil || peek == 0x0A else { throw failure("expected the end of the line") }
            if peek == 0x0A { index += 1 }
        }

        mutating func document() throws(Failure) -> Table {
            while true {
                skipBlank()
                guard let byte = peek else { return root }
                if byte == UInt8(ascii: "[") {
                    try header()
                } else {
                    let (path, value) = try keyValue()
                    try insert(value, at: current + path, dotted: path.count > 1)
                }
                try endOfLine()
            }
        }

        mutating func header() throws(Failure) {
            index += 1
            let isArray = peek == UInt8(ascii: "[")
            if isArray { index += 1 }
            skipSpaces()
            let path = try key()
            skipSpaces()
            guard peek == UInt8(ascii: "]") else { throw failure("expected ']' to close the table header") }
            index += 1
            if isArray {
                guard peek == UInt8(ascii: "]") else { throw failure("expected ']]' to close the array header") }
                index += 1
                try appendTable(at: path)
            } else {
                let joined = path.joined(separator: "\u{0}")
                guard !defined.contains(joined) else {
                    throw failure("table [\(path.joined(separator: "."))] is defined twice")
                }
                defined.insert(joined)
                try ensureTable(at: path)
            }
            current = path
        }

        /// A dotted key: `a.b."c d"`.
        mutating func key() throws(Failure) -> [String] {
            var parts: [String] = []
            while true {
                skipSpaces()
                if peek == UInt8(ascii: "\"") {
                    parts.append(try basicString())
                } else if peek == UInt8(ascii: "'") {
                    parts.append(try literalString())
                } else {
                    let start = index
                    while let byte = peek, Self.isBareKey(byte) { index += 1 }
                    guard index > start else { throw failure("expected a key") }
                    parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
                }
                skipSpaces()
                guard peek == UInt8(ascii: ".") else { return parts }
                index += 1
            }
        }

        static func isBareKey(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-")
        }

        mutating func keyValue() throws(Failure) -> ([String], TOMLValue) {
            let path = try key()
            guard peek == UInt8(ascii: "=") else {
                throw failure("expected '=' after the key '\(path.joined(separator: "."))'")
            }
            index += 1
            skipSpaces()
            return (path, try value())
        }

        mutating func value() throws(Failure) -> TOMLValue {
            guard let byte = peek else { throw failure("expected a value") }
            switch byte {
            case UInt8(ascii: "\""): return .string(try basicString())
            case UInt8(ascii: "'"): return .string(try literalString())
            case UInt8(ascii: "["): return try array()
            case UInt8(ascii: "{"): return try inlineTable()
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                if matches("true") { return .bool(true) }
                if matches("false") { return .bool(false) }
                throw failure("expected a value (strings need quotes)")
            default: return try numberOrDate()
            }
        }

        mutating func matches(_ word: String) -> Bool {
            let utf8 = Array(word.utf8)
            guard index + utf8.count <= bytes.count, Array(bytes[index..<index + utf8.count]) == utf8 else {
                return false
            }
            let after = index + utf8.count < bytes.count ? bytes[index + utf8.count] : 0x20
            guard !Self.isBareKey(after) else { return false }
            index += utf8.count
            return true
        }

        mutating func numberOrDate() throws(Failure) -> TOMLValue {
            let start = index
            while let byte = peek,
                Self.isBareKey(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: ":") || (byte == 0x20 && isDateTimeSpace(start: start))
            {
                index += 1
            }
            let token = String(decoding: bytes[start..<index], as: UTF8.self)
            guard !token.isEmpty else { throw failure("expected a value (strings need quotes)") }
            if token.count >= 10, token.dropFirst(4).first == "-" || token.dropFirst(2).first == ":" {
                return .dateTime(token)
            }
            var digits = token.filter { $0 != "_" }
            if token.contains("__") || token.hasPrefix("_") || token.hasSuffix("_") {
                throw failure("'\(token)' is not a number: '_' must sit between digits")
            }
            for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where digits.hasPrefix(prefix) {
                guard let value = Int64(digits.dropFirst(2), radix: radix) else {
                    throw failure("'\(token)' is not a number")
                }
                return .integer(value)
            }
            switch digits {
            case "inf", "+inf": return .double(.infinity)
            case "-inf": return .double(-.infinity)
            case "nan", "+nan", "-nan": return .double(.nan)
            default: break
            }
            if digits.hasPrefix("+") { digits.removeFirst() }
            let unsigned = digits.hasPrefix("-") ? digits.dropFirst() : Substring(digits)
            if unsigned.count > 1, unsigned.hasPrefix("0"), unsigned.dropFirst().first?.isNumber == true {
                throw failure("'\(token)' is not a number: leading zeros are not allowed")
            }
            if let integer = Int64(digits) { return .integer(integer) }
            if digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let double = Double(digits),
                !digits.hasSuffix("."), !digits.hasPrefix("."), !digits.contains(".e"), !digits.contains(".E")
            {
                return .double(double)
            }
            throw failure("'\(token)' is not a value (strings need quotes)")
        }

        /// A space inside `1979-05-27 07:32:00`.
        func isDateTimeSpace(start: Int) -> Bool {
            let sofar = index - start
            guard sofar == 10, bytes[start + 4] == UInt8(ascii: "-"), index + 1 < bytes.count else { return false }
            return (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index + 1])
        }

        mutating func basicString() throws(Failure) -> String {
            let multiline = bytes[index...].starts(with: Array("\"\"\"".utf8))
            index += multiline ? 3 : 1
            if multiline, peek == 0x0A { index += 1 }
            var result: [UInt8] = []
            while true {
                guard let byte = peek else { throw failure("a string is not closed") }
                if byte == UInt8(ascii: "\"") {
                    if !multiline {
                        index += 1
                        return String(decoding: result, as: UTF8.self)
                    }
                    if bytes[index...].starts(with: Array("\"\"\"".utf8)) {
                        index += 3
                        // Up to two quotes right before the closing ones belong to the string.
                        while peek == UInt8(ascii: "\"") && result.count >= 0 {
                            result.append(UInt8(ascii: "\""))
                            index += 1
                        }
                        return String(decoding: result, as: UTF8.self)
                    }
                }
                if byte == 0x0A && !multiline { throw failure("a string is not closed on its line") }
                index += 1
                guard byte == UInt8(ascii: "\\") else {
                    result.append(byte)
                    continue
                }
                guard let escaped = peek else { throw failure("a string is not closed") }
                index += 1
                switch escaped {
                case UInt8(ascii: "b"): result.append(0x08)
                case UInt8(ascii: "t"): result.append(0x09)
                case UInt8(ascii: "n"): result.append(0x0A)
                case UInt8(ascii: "f"): result.append(0x0C)
                case UInt8(ascii: "r"): result.append(0x0D)
                case UInt8(ascii: "\""): result.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): result.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let count = escaped == UInt8(ascii: "u") ? 4 : 8
                    guard index + count <= bytes.count,
                        let code = UInt32(String(decoding: bytes[index..<index + count], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(code)
                    else { throw failure("a \\u escape needs \(count) hex digits of a Unicode scalar") }
                    index += count
                    result.append(contentsOf: Array(String(Character(scalar)).utf8))
                case let blank where multiline && (blank == 0x0A || blank == 0x20 || blank == 0x09 || blank == 0x0D):
                    // A line-ending backslash trims the new line and the blanks after it.
                    while let next = peek, next == 0x0A || next == 0x20 || next == 0x09 || next == 0x0D { index += 1 }
                default:
                    index -= 1
                    throw failure("unknown escape '\\\(Character(Unicode.Scalar(escaped)))' in a string")
                }
            }
        }

        mutating func literalString() throws(Failure) -> String {
            let multiline = bytes[index...].starts(with: Array("'''".utf8))
            index += multiline ? 3 : 1
            if multiline, peek == 0x0A { index += 1 }
            let start = index
            while true {
                guard let byte = peek else { throw failure("a string is not closed") }
                if multiline, bytes[index...].starts(with: Array("'''".utf8)) {
                    let text = String(decoding: bytes[start..<index], as: UTF8.self)
                    index += 3
                    return text
                }
                if !multiline && byte == UInt8(ascii: "'") {
                    index += 1
                    return String(decoding: bytes[start..<index - 1], as: UTF8.self)
                }
                if byte == 0x0A && !multiline { throw failure("a string is not closed on its line") }
                index += 1
            }
        }

        mutating func array() throws(Failure) -> TOMLValue {
            index += 1
            var values: [TOMLValue] = []
            while true {
                skipBlank()
                if peek == UInt8(ascii: "]") {
                    index += 1
                    return .array(values)
                }
                values.append(try value())
                skipBlank()
                if peek == UInt8(ascii: ",") {
                    index += 1
                } else if peek != UInt8(ascii: "]") {
                    throw failure("expected ',' or ']' in an array")
                }
            }
        }

        mutating func inlineTable() throws(Failure) -> TOMLValue {
            index += 1
            var table = Table()
            skipSpaces()
            if peek == UInt8(ascii: "}") {
                index += 1
                return .table(table)
            }
            while true {
                skipSpaces()
                let (path, value) = try keyValue()
                try Self.insert(value, at: path[...], into: &table) { message throws(Failure) in
                    throw failure(message)
                }
                skipSpaces()
                if peek == UInt8(ascii: ",") {
                    index += 1
                } else if peek == UInt8(ascii: "}") {
                    index += 1
                    return .table(table)
                } else {
                    throw failure("expected ',' or '}' in an inline table (which stays on one line)")
                }
            }
        }

        static func insert(
            _ value: TOMLValue, at path: ArraySlice<String>, into table: inout Table,
            fail: (String) throws(Failure) -> Never
        ) throws(Failure) {
            guard let first = path.first else { return }
            if path.count == 1 {
                guard table[first] == nil else { try fail("the key '\(first)' is defined twice") }
                table[first] = value
                return
            }
            var inner: Table
            switch table[first] {
            case nil: inner = Table()
            case .table(let existing)?: inner = existing
            default: try fail("the key '\(first)' is not a table")
            }
            try insert(value, at: path.dropFirst(), into: &inner, fail: fail)
            table[first] = .table(inner)
        }

        // MARK: - The document's tree

        mutating func insert(_ value: TOMLValue, at path: [String], dotted: Bool) throws(Failure) {
            let error = failure("")
            let parent = Array(path.dropLast())
            if inlineTables.contains(parent.joined(separator: "\u{0}")) {
                throw Failure(message: "an inline table cannot be extended", line: error.line, column: error.column)
            }
            try Self.modify(&root, path: parent[...]) { (table: inout Table) throws(Failure) in
                guard table[path.last!] == nil else {
                    throw Failure(
                        message: "the key '\(path.joined(separator: "."))' is defined twice", line: error.line,
                        column: error.column)
                }
                table[path.last!] = value
            } fail: { message throws(Failure) in
                throw Failure(message: message, line: error.line, column: error.column)
            }
            if case .table = value { inlineTables.insert(path.joined(separator: "\u{0}")) }
        }

        mutating func ensureTable(at path: [String]) throws(Failure) {
            let error = failure("")
            try Self.modify(&root, path: path[...]) { (_: inout Table) throws(Failure) in
            } fail: { message throws(Failure) in
                throw Failure(message: message, line: error.line, column: error.column)
            }
        }

        mutating func appendTable(at path: [String]) throws(Failure) {
            let error = failure("")
            let joined = path.joined(separator: "\u{0}")
            try Self.modify(&root, path: path.dropLast()) { (table: inout Table) throws(Failure) in
                switch table[path.last!] {
                case nil:
                    table[path.last!] = .array([.table([:])])
                case .array(var elements)? where arraysOfTables.contains(joined):
                    elements.append(.table([:]))
                    table[path.last!] = .array(elements)
                default:
                    throw Failure(
                        message: "[[\(path.joined(separator: "."))]] names a key that is not an array of tables",
                        line: error.line, column: error.column)
                }
            } fail: { message throws(Failure) in
                throw Failure(message: message, line: error.line, column: error.column)
            }
            arraysOfTables.insert(joined)
        }

        /// Walks (creating tables) down `path`, stepping into the last element of arrays of
        /// tables, and applies `body` to the table found.
        static func modify(
            _ table: inout Table, path: ArraySlice<String>, body: (inout Table) throws(Failure) -> Void,
            fail: (String) throws(Failure) -> Never
        ) throws(Failure) {
            guard let first = path.first else {
                try body(&table)
                return
            }
            switch table[first] {
            case nil:
                var inner = Table()
                try modify(&inner, path: path.dropFirst(), body: body, fail: fail)
                table[first] = .table(inner)
            case .table(var inner)?:
                try modify(&inner, path: path.dropFirst(), body: body, fail: fail)
                table[first] = .table(inner)
            case .array(var elements)?:
                guard case .table(var last)? = elements.last else { try fail("the key '\(first)' is not a table") }
                try modify(&last, path: path.dropFirst(), body: body, fail: fail)
                elements[elements.count - 1] = .table(last)
                table[first] = .array(elements)
            default:
                try fail("the key '\(first)' is not a table")
            }
        }
    }
}

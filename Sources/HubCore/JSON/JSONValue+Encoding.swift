extension JSONValue {
    /// Compact JSON text: no whitespace, keys in their order, numbers as they were written.
    public var compactText: String {
        var output = ""
        output.reserveCapacity(64)
        write(to: &output)
        return output
    }

    /// The compact JSON text as UTF-8 bytes.
    public var compactBytes: [UInt8] { Array(compactText.utf8) }

    /// The length in bytes of ``compactText``.
    public var compactByteCount: Int { compactText.utf8.count }

    public func write(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let bool): output += bool ? "true" : "false"
        case .number(let number): output += number.literal
        case .string(let string): Self.writeString(string, to: &output)
        case .array(let array):
            output += "["
            for (position, element) in array.enumerated() {
                if position > 0 { output += "," }
                element.write(to: &output)
            }
            output += "]"
        case .object(let object):
            output += "{"
            var first = true
            for (key, value) in object {
                if !first { output += "," }
                first = false
                Self.writeString(key, to: &output)
                output += ":"
                value.write(to: &output)
            }
            output += "}"
        }
    }

    static func writeString(_ string: String, to output: inout String) {
        output += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { compactText }
}

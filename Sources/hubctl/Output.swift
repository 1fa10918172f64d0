import ArgumentParser
import HubCore

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

enum Output {
    /// Prints `hubctl: message` on stderr and returns the exit to throw.
    static func fail(_ message: String, code: ExitStatus) -> ExitCode {
        fputs("hubctl: \(message)\n", stderr)
        return ExitCode(code.rawValue)
    }

    /// A table with a header row; columns as wide as their widest cell.
    static func table(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 2)
            }.joined()
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }

    /// A value as a person reads it: strings bare, everything else as compact JSON.
    static func text(_ value: JSONValue?) -> String {
        switch value {
        case nil: return ""
        case .null?: return "-"
        case .string(let string)?: return string
        case let other?: return other.compactText
        }
    }

    /// Leaves of an object as dotted paths: `{"a":{"b":1}}` → [("a.b", 1)].
    static func flatten(_ value: JSONValue?, prefix: String = "") -> [(String, JSONValue)] {
        guard case .object(let object)? = value else { return prefix.isEmpty ? [] : [(prefix, value ?? .null)] }
        if object.isEmpty && !prefix.isEmpty { return [(prefix, .object([:]))] }
        return object.flatMap { key, inner in flatten(inner, prefix: prefix.isEmpty ? key : "\(prefix).\(key)") }
    }

    /// Epoch seconds as local `YYYY-MM-DD HH:MM:SS`.
    static func time(_ value: JSONValue?) -> String {
        guard let seconds = value?.numberValue?.exactInteger else { return "-" }
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A whole shadow document as a table of attributes: desired, reported, and whether they differ.
    static func shadow(_ document: JSONValue, title: String) {
        print("\(title)  version \(text(document["version"]))")
        let desired = Dictionary(flatten(document["state"]?["desired"]), uniquingKeysWith: { a, _ in a })
        let reported = Dictionary(flatten(document["state"]?["reported"]), uniquingKeysWith: { a, _ in a })
        let delta = Set(flatten(document["state"]?["delta"]).map(\.0))
        let keys = Set(desired.keys).union(reported.keys).sorted()
        if keys.isEmpty {
            print("(no state)")
            return
        }
        table(
            ["ATTRIBUTE", "DESIRED", "REPORTED", ""],
            keys.map { key in [key, text(desired[key]), text(reported[key]), delta.contains(key) ? "pending" : ""] })
    }
}

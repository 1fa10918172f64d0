import HubCore

/// Matches an actual JSON value against an expectation from shadow-vectors.json, with the
/// placeholder tokens its CONVENTIONS entry defines ($TS, $ANY, $ABSENT, $CAPTURE:x, $EQ:x,
/// $one_of, $prefix, $set).
struct VectorMatcher {
    enum Mode { case exact, subset }

    var window: ClosedRange<Int64>
    var captures: [String: JSONValue] = [:]

    /// Returns the first mismatch as a readable path and reason, or nil when the value matches.
    mutating func mismatch(expected: JSONValue, actual: JSONValue?, mode: Mode, path: String = "$") -> String? {
        if case .string(let token) = expected, token.hasPrefix("$") {
            return tokenMismatch(token, actual: actual, path: path)
        }
        guard let actual else { return "\(path): missing, expected \(expected)" }
        switch expected {
        case .object(let object):
            if let alternatives = object["$one_of"]?.arrayValue {
                for alternative in alternatives {
                    var trial = self
                    if trial.mismatch(expected: alternative, actual: actual, mode: mode, path: path) == nil {
                        self = trial
                        return nil
                    }
                }
                return "\(path): \(actual) is none of \(alternatives)"
            }
            if let prefix = object["$prefix"]?.stringValue {
                guard let string = actual.stringValue, string.hasPrefix(prefix) else {
                    return "\(path): \(actual) does not start with '\(prefix)'"
                }
                return nil
            }
            if let set = object["$set"]?.arrayValue {
                guard let array = actual.arrayValue, array.count == set.count,
                    set.allSatisfy({ element in array.contains(element) })
                else { return "\(path): \(actual) is not the set \(set)" }
                return nil
            }
            guard let actualObject = actual.objectValue else { return "\(path): \(actual) is not an object" }
            for (key, value) in object {
                if let problem = mismatch(
                    expected: value, actual: actualObject[key], mode: mode, path: "\(path).\(key)")
                {
                    return problem
                }
            }
            if mode == .exact {
                for key in actualObject.keys where object[key] == nil {
                    return "\(path).\(key): unexpected key with value \(actualObject[key]!)"
                }
            }
            return nil
        case .array(let array):
            guard let actualArray = actual.arrayValue, actualArray.count == array.count else {
                return "\(path): \(actual) is not an array of \(array.count)"
            }
            for (index, element) in array.enumerated() {
                if let problem = mismatch(
                    expected: element, actual: actualArray[index], mode: mode, path: "\(path)[\(index)]")
                {
                    return problem
                }
            }
            return nil
        default:
            return expected == actual ? nil : "\(path): expected \(expected), got \(actual)"
        }
    }

    private mutating func tokenMismatch(_ token: String, actual: JSONValue?, path: String) -> String? {
        if token == "$ABSENT" {
            return actual == nil ? nil : "\(path): expected absent, got \(actual!)"
        }
        guard let actual else { return "\(path): missing, expected \(token)" }
        if token == "$ANY" { return nil }
        if token == "$TS" {
            guard let value = actual.numberValue?.exactInteger, window.contains(value) else {
                return "\(path): \(actual) is not a timestamp in \(window)"
            }
            return nil
        }
        if token.hasPrefix("$CAPTURE:") {
            guard actual.numberValue?.exactInteger != nil else { return "\(path): \(actual) is not an integer" }
            captures[String(token.dropFirst("$CAPTURE:".count))] = actual
            return nil
        }
        if token.hasPrefix("$EQ:") {
            let name = String(token.dropFirst("$EQ:".count))
            guard let captured = captures[name] else { return "\(path): nothing captured as \(name)" }
            return captured == actual ? nil : "\(path): \(actual) differs from \(name) = \(captured)"
        }
        return actual == .string(token) ? nil : "\(path): expected \(token), got \(actual)"
    }
}

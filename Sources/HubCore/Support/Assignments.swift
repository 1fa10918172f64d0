/// `key=value` arguments as people type them on a command line, turned into a JSON object.
///
/// A value that is JSON is taken as JSON (`21` a number, `true` a boolean, `null` null,
/// `'"21"'` the string "21", `[1,2]` an array); anything else is a string (`mode=heat`). Dots
/// in the key nest (`lights.color=red` → `{"lights":{"color":"red"}}`).
public enum Assignments {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ arguments: [String]) throws(Failure) -> JSONObject {
        var result = JSONObject()
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
                throw Failure(description: "'\(argument)' is not key=value (e.g. targetTemperature=21 or mode=heat)")
            }
            let path = argument[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !path.contains(where: \.isEmpty) else {
                throw Failure(description: "'\(argument)': a key may not have an empty part between dots")
            }
            let text = String(argument[argument.index(after: equals)...])
            let value = (try? JSONParser().parse(text)) ?? .string(text)
            insert(value, at: path[...], into: &result)
        }
        return result
    }

    static func insert(_ value: JSONValue, at path: ArraySlice<String>, into object: inout JSONObject) {
        guard let key = path.first else { return }
        if path.count == 1 {
            object[key] = value
            return
        }
        var inner = object[key]?.objectValue ?? [:]
        insert(value, at: path.dropFirst(), into: &inner)
        object[key] = .object(inner)
    }
}

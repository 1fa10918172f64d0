/// Metadata trees: a `{"timestamp": T}` for every leaf, mirroring the state's shape. Objects
/// have no timestamp of their own; an array's metadata is an array of per-element metadata.
enum ShadowMetadata {
    static func leaf(_ timestamp: Int64) -> JSONValue { ["timestamp": .integer(timestamp)] }

    static func tree(for object: JSONObject, at timestamp: Int64) -> JSONObject {
        object.mapValues { node(for: $0, at: timestamp) }
    }

    /// Metadata for a value: leaves (and nulls, as in `/update/accepted`) get the timestamp.
    static func node(for value: JSONValue, at timestamp: Int64) -> JSONValue {
        switch value {
        case .object(let object): return .object(tree(for: object, at: timestamp))
        case .array(let array): return .array(array.map { node(for: $0, at: timestamp) })
        default: return leaf(timestamp)
        }
    }
}

/// Merging a request section into stored state, with the matching metadata changes.
///
/// Rules (spec/aws-shadow.md §4.2 and Part A; decisions in docs/shadows.md):
/// - a `null` member deletes the key and its metadata; a missing key is left alone;
/// - an object merged into an object recurses; an object emptied by deletions is removed;
/// - anything else replaces the value wholesale (arrays are whole values);
/// - a new object has its nulls stripped; if nothing but nulls was in it, no key is created;
///   `{}` itself is stored as an empty object when the key is new or held a non-object;
/// - only the leaves in the request get the new timestamp.
enum ShadowMerge {
    static func merge(
        _ patch: JSONObject, into state: inout JSONObject, metadata: inout JSONObject, at timestamp: Int64
    ) {
        for (key, value) in patch {
            switch value {
            case .null:
                state[key] = nil
                metadata[key] = nil
            case .object(let patchObject):
                if case .object(var existing)? = state[key] {
                    var existingMetadata = metadata[key]?.objectValue ?? [:]
                    merge(patchObject, into: &existing, metadata: &existingMetadata, at: timestamp)
                    if existing.isEmpty && !patchObject.isEmpty {
                        state[key] = nil
                        metadata[key] = nil
                    } else {
                        state[key] = .object(existing)
                        metadata[key] = .object(existingMetadata)
                    }
                } else if let stripped = strippingNulls(patchObject) {
                    state[key] = .object(stripped)
                    metadata[key] = .object(ShadowMetadata.tree(for: stripped, at: timestamp))
                } else {
                    state[key] = nil
                    metadata[key] = nil
                }
            default:
                state[key] = value
                metadata[key] = ShadowMetadata.node(for: value, at: timestamp)
            }
        }
    }

    /// The object without its null members, recursively; `nil` when only nulls were in it.
    static func strippingNulls(_ object: JSONObject) -> JSONObject? {
        guard !object.isEmpty else { return object }
        var result = JSONObject()
        for (key, value) in object {
            switch value {
            case .null:
                continue
            case .object(let inner):
                if let stripped = strippingNulls(inner) { result[key] = .object(stripped) }
            default:
                result[key] = value
            }
        }
        return result.isEmpty ? nil : result
    }
}

/// The difference between desired and reported state, as AWS computes it.
enum ShadowDelta {
    /// Walks `desired`: a key missing from `reported` or with a different value is in the delta;
    /// two objects recurse so that the delta keeps the path to the root. Keys only in `reported`
    /// never appear. The metadata copies the desired timestamps of the delta's leaves.
    static func compute(
        desired: JSONObject, reported: JSONObject?, desiredMetadata: JSONObject
    ) -> (state: JSONObject, metadata: JSONObject) {
        var state = JSONObject()
        var metadata = JSONObject()
        for (key, desiredValue) in desired {
            let reportedValue = reported?[key]
            if case .object(let desiredObject) = desiredValue, case .object(let reportedObject)? = reportedValue {
                let sub = compute(
                    desired: desiredObject, reported: reportedObject,
                    desiredMetadata: desiredMetadata[key]?.objectValue ?? [:])
                if !sub.state.isEmpty {
                    state[key] = .object(sub.state)
                    metadata[key] = .object(sub.metadata)
                }
            } else if reportedValue != desiredValue {
                state[key] = desiredValue
                metadata[key] = desiredMetadata[key] ?? .object([:])
            }
        }
        return (state, metadata)
    }
}

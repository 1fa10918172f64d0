/// What the hub stores for one shadow: its state, the per-leaf metadata, and its version.
///
/// A deleted shadow keeps a record with `exists == false` and its last version, so that a
/// re-created shadow continues the numbering (deleted at N, re-created at N + 1).
public struct ShadowRecord: Sendable, Equatable {
    public var exists: Bool
    public var version: Int64
    public var desired: JSONObject?
    public var reported: JSONObject?
    public var desiredMetadata: JSONObject?
    public var reportedMetadata: JSONObject?

    public init(
        exists: Bool = true,
        version: Int64,
        desired: JSONObject? = nil,
        reported: JSONObject? = nil,
        desiredMetadata: JSONObject? = nil,
        reportedMetadata: JSONObject? = nil
    ) {
        self.exists = exists
        self.version = version
        self.desired = desired
        self.reported = reported
        self.desiredMetadata = desiredMetadata
        self.reportedMetadata = reportedMetadata
    }

    /// A record put directly into a state (the test vectors' `preload` hook). Leaves without
    /// metadata get `defaultTimestamp`.
    public init(preloadState state: JSONValue?, metadata: JSONValue?, version: Int64, defaultTimestamp: Int64) {
        let desired = state?["desired"]?.objectValue
        let reported = state?["reported"]?.objectValue
        self.init(
            version: version,
            desired: desired,
            reported: reported,
            desiredMetadata: desired.map {
                metadata?["desired"]?.objectValue ?? ShadowMetadata.tree(for: $0, at: defaultTimestamp)
            },
            reportedMetadata: reported.map {
                metadata?["reported"]?.objectValue ?? ShadowMetadata.tree(for: $0, at: defaultTimestamp)
            }
        )
    }

    /// The current delta and its metadata, or `nil` when desired and reported agree.
    public var delta: (state: JSONObject, metadata: JSONObject)? {
        guard let desired else { return nil }
        let delta = ShadowDelta.compute(desired: desired, reported: reported, desiredMetadata: desiredMetadata ?? [:])
        return delta.state.isEmpty ? nil : delta
    }

    /// Bytes of compact desired + reported JSON, the quantity the size limit applies to.
    public var stateByteCount: Int {
        (desired.map { JSONValue.object($0).compactByteCount } ?? 0)
            + (reported.map { JSONValue.object($0).compactByteCount } ?? 0)
    }

    /// `{"state": {desired?, reported?}, "metadata": {desired?, reported?}, "version": N}`: the
    /// snapshot shape of `/update/documents`, and the form the store keeps.
    public var snapshot: JSONValue {
        var state = JSONObject()
        var metadata = JSONObject()
        if let desired {
            state["desired"] = .object(desired)
            metadata["desired"] = .object(desiredMetadata ?? [:])
        }
        if let reported {
            state["reported"] = .object(reported)
            metadata["reported"] = .object(reportedMetadata ?? [:])
        }
        return ["state": .object(state), "metadata": .object(metadata), "version": .integer(version)]
    }

    /// Reads back a ``snapshot``.
    public init?(snapshot: JSONValue, exists: Bool) {
        guard let version = snapshot["version"]?.numberValue?.exactInteger else { return nil }
        self.init(
            exists: exists,
            version: version,
            desired: snapshot["state"]?["desired"]?.objectValue,
            reported: snapshot["state"]?["reported"]?.objectValue,
            desiredMetadata: snapshot["metadata"]?["desired"]?.objectValue,
            reportedMetadata: snapshot["metadata"]?["reported"]?.objectValue
        )
    }
}

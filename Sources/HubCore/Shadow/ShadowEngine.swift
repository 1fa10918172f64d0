/// The AWS IoT Device Shadow rules as pure functions: a stored record and a request in, the new
/// record and the messages to publish out. No I/O and no clock: the caller passes `now`.
public struct ShadowEngine: Sendable {
    public var limits: ShadowLimits

    public init(limits: ShadowLimits = .aws) {
        self.limits = limits
    }

    /// An accepted update: the record to store and the three messages AWS publishes.
    public struct Update: Sendable {
        public var record: ShadowRecord
        public var previous: ShadowRecord?
        /// `/update/accepted` (and the REST update's body).
        public var accepted: JSONValue
        /// `/update/delta`, when the resulting shadow has a delta.
        public var delta: JSONValue?
        /// `/update/documents`.
        public var documents: JSONValue
        public var clientToken: String?
    }

    /// An accepted delete: the tombstone to store and `/delete/accepted`.
    public struct Deletion: Sendable {
        public var record: ShadowRecord
        public var accepted: JSONValue
    }

    // MARK: - Update

    public func update(_ current: ShadowRecord?, payload: [UInt8], at now: Int64) throws(ShadowError) -> Update {
        try update(current, request: ShadowUpdateRequest(Self.parse(payload, limits: limits), limits: limits), at: now)
    }

    public func update(_ current: ShadowRecord?, request: ShadowUpdateRequest, at now: Int64) throws(ShadowError)
        -> Update
    {
        let currentVersion = current?.version ?? 0
        if let version = request.version, version != currentVersion {
            throw ShadowError.versionConflict.with(clientToken: request.clientToken)
        }
        let existing = current?.exists == true ? current : nil
        var record = existing ?? ShadowRecord(version: currentVersion)
        record.exists = true
        record.version = currentVersion + 1
        if request.clearsState {
            record.desired = nil
            record.desiredMetadata = nil
            record.reported = nil
            record.reportedMetadata = nil
        }
        Self.apply(request.desired, to: &record.desired, metadata: &record.desiredMetadata, at: now)
        Self.apply(request.reported, to: &record.reported, metadata: &record.reportedMetadata, at: now)
        guard record.stateByteCount <= limits.maxDocumentBytes else {
            throw ShadowError.payloadTooLarge.with(clientToken: request.clientToken)
        }
        return Update(
            record: record,
            previous: existing,
            accepted: Self.acceptedDocument(request, version: record.version, at: now),
            delta: Self.deltaDocument(record, clientToken: request.clientToken, at: now),
            documents: Self.documentsDocument(
                previous: existing, current: record, clientToken: request.clientToken, at: now),
            clientToken: request.clientToken
        )
    }

    static func apply(_ section: JSONValue?, to state: inout JSONObject?, metadata: inout JSONObject?, at now: Int64) {
        switch section {
        case .null?:
            state = nil
            metadata = nil
        case .object(let patch)?:
            var merged = state ?? [:]
            var mergedMetadata = metadata ?? [:]
            ShadowMerge.merge(patch, into: &merged, metadata: &mergedMetadata, at: now)
            state = merged.isEmpty ? nil : merged
            metadata = merged.isEmpty ? nil : mergedMetadata
        default:
            return
        }
    }

    // MARK: - Get and delete

    public func get(_ current: ShadowRecord?, id: ShadowID, payload: [UInt8] = [], at now: Int64) throws(ShadowError)
        -> JSONValue
    {
        let request = try ShadowReadRequest(payload, limits: limits)
        return try get(current, id: id, clientToken: request.clientToken, at: now)
    }

    public func get(_ current: ShadowRecord?, id: ShadowID, clientToken: String?, at now: Int64) throws(ShadowError)
        -> JSONValue
    {
        guard let current, current.exists else { throw ShadowError.noShadow(id).with(clientToken: clientToken) }
        var state = JSONObject()
        var metadata = JSONObject()
        if let desired = current.desired {
            state["desired"] = .object(desired)
            metadata["desired"] = .object(current.desiredMetadata ?? [:])
        }
        if let reported = current.reported {
            state["reported"] = .object(reported)
            metadata["reported"] = .object(current.reportedMetadata ?? [:])
        }
        if let delta = current.delta {
            state["delta"] = .object(delta.state)
            metadata["delta"] = .object(delta.metadata)
        }
        var document: JSONObject = [
            "state": .object(state), "metadata": .object(metadata),
            "version": .integer(current.version), "timestamp": .integer(now),
        ]
        if let clientToken { document["clientToken"] = .string(clientToken) }
        return .object(document)
    }

    public func delete(_ current: ShadowRecord?, id: ShadowID, payload: [UInt8] = [], at now: Int64) throws(ShadowError)
        -> Deletion
    {
        let request = try ShadowReadRequest(payload, limits: limits)
        return try delete(current, id: id, clientToken: request.clientToken, at: now)
    }

    public func delete(_ current: ShadowRecord?, id: ShadowID, clientToken: String?, at now: Int64) throws(ShadowError)
        -> Deletion
    {
        guard let current, current.exists else { throw ShadowError.noShadow(id).with(clientToken: clientToken) }
        var accepted: JSONObject = ["version": .integer(current.version), "timestamp": .integer(now)]
        if let clientToken { accepted["clientToken"] = .string(clientToken) }
        return Deletion(record: ShadowRecord(exists: false, version: current.version), accepted: .object(accepted))
    }

    // MARK: - Parsing and documents

    /// Parses a payload: 415 for bytes that are not UTF-8, 400 for text that is not JSON or that
    /// nests deeper than the parser follows.
    public static func parse(_ payload: [UInt8], limits: ShadowLimits) throws(ShadowError) -> JSONValue {
        do {
            return try JSONParser().parse(payload)
        } catch {
            switch error.kind {
            case .invalidUTF8: throw .unsupportedEncoding
            case .tooDeep: throw .tooDeep(maximum: limits.maxDepth)
            case .syntax: throw .invalidJSON
            }
        }
    }

    static func acceptedDocument(_ request: ShadowUpdateRequest, version: Int64, at now: Int64) -> JSONValue {
        var metadata = JSONObject()
        if case .object(let sections) = request.echoedState {
            for (name, section) in sections {
                metadata[name] = ShadowMetadata.node(for: section, at: now)
            }
        }
        var document: JSONObject = [
            "state": request.echoedState, "metadata": .object(metadata),
            "version": .integer(version), "timestamp": .integer(now),
        ]
        if let clientToken = request.clientToken { document["clientToken"] = .string(clientToken) }
        return .object(document)
    }

    /// `/update/delta` for a record, or nil when desired and reported agree.
    public static func deltaDocument(_ record: ShadowRecord, clientToken: String?, at now: Int64) -> JSONValue? {
        guard let delta = record.delta else { return nil }
        var document: JSONObject = [
            "state": .object(delta.state), "metadata": .object(delta.metadata),
            "version": .integer(record.version), "timestamp": .integer(now),
        ]
        if let clientToken { document["clientToken"] = .string(clientToken) }
        return .object(document)
    }

    static func documentsDocument(previous: ShadowRecord?, current: ShadowRecord, clientToken: String?, at now: Int64)
        -> JSONValue
    {
        var document: JSONObject = [
            "previous": previous?.snapshot ?? .null, "current": current.snapshot, "timestamp": .integer(now),
        ]
        if let clientToken { document["clientToken"] = .string(clientToken) }
        return .object(document)
    }
}

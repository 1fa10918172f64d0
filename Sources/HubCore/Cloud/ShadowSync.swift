/// The three-way merge of a shadow kept in two places — the hub and AWS IoT Core — against the
/// last state both agreed on (docs/cloud.md). Pure: the daemon's CloudSyncService does the I/O.
///
/// Per leaf (a value that is not an object; arrays are leaves, as in AWS's own merge), with `base`
/// the last synced value, and absent meaning deleted:
///   - both sides equal: nothing to do;
///   - changed on one side only: that side's value, sent to the other;
///   - changed on both: `reported` from the hub (the device knows what is), `desired` from the
///     cloud (the person asking remotely), unless the preference says otherwise; objects changed
///     on both sides are merged key by key.
/// A one-way direction makes its source the master, as Greengrass's ShadowManager does:
/// `to_cloud` never changes the hub and makes the cloud's copy equal to the hub's (deletions
/// too); `from_cloud` the other way round.
public enum ShadowSync {
    public enum Direction: String, Sendable, CaseIterable {
        case both
        case toCloud = "to_cloud"
        case fromCloud = "from_cloud"

        public var writesHub: Bool { self != .toCloud }
        public var writesCloud: Bool { self != .fromCloud }
    }

    public enum Side: String, Sendable {
        case hub, cloud
    }

    /// Which side wins a leaf changed on both sides, per section.
    public struct Preference: Sendable, Equatable {
        public var desired: Side
        public var reported: Side

        public init(desired: Side = .cloud, reported: Side = .hub) {
            self.desired = desired
            self.reported = reported
        }
    }

    /// A shadow's state as both sides see it: the `desired` and `reported` sections.
    public struct State: Sendable, Equatable {
        public var desired: JSONObject
        public var reported: JSONObject

        public init(desired: JSONObject = .empty, reported: JSONObject = .empty) {
            self.desired = desired
            self.reported = reported
        }

        /// From a shadow document's `state` (or a record's sections).
        public init(_ state: JSONValue?) {
            desired = state?["desired"]?.objectValue ?? [:]
            reported = state?["reported"]?.objectValue ?? [:]
        }

        public var json: JSONValue { ["desired": .object(desired), "reported": .object(reported)] }
    }

    /// What a merge decided: the state both sides should now hold, and the update each side needs
    /// (an AWS `state` section with nulls for deletions; nil when that side needs nothing).
    public struct Outcome: Sendable, Equatable {
        public var merged: State
        public var toHub: JSONObject?
        public var toCloud: JSONObject?
    }

    public static func merge(
        base: State?, hub: State, cloud: State, direction: Direction = .both, prefer: Preference = Preference()
    ) -> Outcome {
        func patch(_ sections: (from: State, to: State)) -> JSONObject? {
            var result: JSONObject = [:]
            let desired = diff(from: sections.from.desired, to: sections.to.desired)
            let reported = diff(from: sections.from.reported, to: sections.to.reported)
            if !desired.isEmpty { result["desired"] = .object(desired) }
            if !reported.isEmpty { result["reported"] = .object(reported) }
            return result.isEmpty ? nil : result
        }
        switch direction {
        case .toCloud:
            return Outcome(merged: hub, toHub: nil, toCloud: patch((cloud, hub)))
        case .fromCloud:
            return Outcome(merged: cloud, toHub: patch((hub, cloud)), toCloud: nil)
        case .both:
            var merged = State()
            var toHub: JSONObject = [:]
            var toCloud: JSONObject = [:]
            let desired = mergeObjects(
                base: base?.desired ?? [:], hub: hub.desired, cloud: cloud.desired, winner: prefer.desired)
            let reported = mergeObjects(
                base: base?.reported ?? [:], hub: hub.reported, cloud: cloud.reported, winner: prefer.reported)
            merged.desired = desired.value
            merged.reported = reported.value
            if !desired.toHub.isEmpty { toHub["desired"] = .object(desired.toHub) }
            if !reported.toHub.isEmpty { toHub["reported"] = .object(reported.toHub) }
            if !desired.toCloud.isEmpty { toCloud["desired"] = .object(desired.toCloud) }
            if !reported.toCloud.isEmpty { toCloud["reported"] = .object(reported.toCloud) }
            return Outcome(merged: merged, toHub: toHub.isEmpty ? nil : toHub, toCloud: toCloud.isEmpty ? nil : toCloud)
        }
    }

    /// The patch that turns `from` into `to` (null deletes; objects are patched key by key).
    public static func diff(from: JSONObject, to: JSONObject) -> JSONObject {
        var result: JSONObject = [:]
        for (key, value) in to where from[key] != value {
            if case .object(let inner)? = from[key], case .object(let target) = value {
                result[key] = .object(diff(from: inner, to: target))
            } else {
                result[key] = value
            }
        }
        for key in from.keys where to[key] == nil { result[key] = .null }
        return result
    }

    /// One section: the merged value and the patch each side needs (null: delete).
    static func mergeObjects(base: JSONObject, hub: JSONObject, cloud: JSONObject, winner: Side)
        -> (value: JSONObject, toHub: JSONObject, toCloud: JSONObject)
    {
        var value: JSONObject = [:]
        var toHub: JSONObject = [:]
        var toCloud: JSONObject = [:]
        var keys = Array(hub.keys)
        for key in cloud.keys where hub[key] == nil { keys.append(key) }
        for key in base.keys where hub[key] == nil && cloud[key] == nil { keys.append(key) }
        for key in keys {
            let b = base[key]
            let l = hub[key]
            let c = cloud[key]
            var chosen: JSONValue?
            if l == c {
                chosen = l
            } else if l == b {
                chosen = c
                toHub[key] = c ?? .null
            } else if c == b {
                chosen = l
                toCloud[key] = l ?? .null
            } else if case .object(let lo)? = l, case .object(let co)? = c {
                let inner = mergeObjects(base: b?.objectValue ?? [:], hub: lo, cloud: co, winner: winner)
                chosen = .object(inner.value)
                if !inner.toHub.isEmpty { toHub[key] = .object(inner.toHub) }
                if !inner.toCloud.isEmpty { toCloud[key] = .object(inner.toCloud) }
            } else if winner == .hub {
                chosen = l
                toCloud[key] = l ?? .null
            } else {
                chosen = c
                toHub[key] = c ?? .null
            }
            if let chosen { value[key] = chosen }
        }
        return (value, toHub, toCloud)
    }

    /// `object` with an AWS-style patch applied (null deletes; objects merge).
    public static func applyPatch(_ object: JSONObject, _ patch: JSONObject) -> JSONObject {
        var result = object
        for (key, value) in patch {
            switch value {
            case .null: result[key] = nil
            case .object(let inner):
                result[key] = .object(applyPatch(result[key]?.objectValue ?? [:], inner))
            default: result[key] = value
            }
        }
        return result
    }
}

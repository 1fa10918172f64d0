import HubCore

/// Small helpers so that rule tests read like the spec.
extension ShadowEngine {
    func update(_ record: ShadowRecord?, _ request: JSONValue, at now: Int64 = 100) throws(ShadowError) -> Update {
        try update(record, payload: request.compactBytes, at: now)
    }

    func rejection(_ record: ShadowRecord?, _ payload: [UInt8]) -> ShadowError? {
        do {
            _ = try update(record, payload: payload, at: 100)
            return nil
        } catch {
            return error
        }
    }

    func rejection(_ record: ShadowRecord?, _ request: JSONValue) -> ShadowError? {
        rejection(record, request.compactBytes)
    }

    /// Applies the requests in turn from nothing; returns the final record.
    func applying(_ requests: [JSONValue], start: Int64 = 100) throws(ShadowError) -> ShadowRecord? {
        var record: ShadowRecord?
        for (offset, request) in requests.enumerated() {
            record = try update(record, request, at: start + Int64(offset)).record
        }
        return record
    }
}

/// Builds JSON objects from a list of integers, so that property tests can generate (and
/// shrink) documents with the integer-array generators of PropertyBased.
struct JSONBuilder {
    var numbers: [Int]
    var position = 0

    init(_ numbers: [Int]) { self.numbers = numbers.isEmpty ? [0] : numbers }

    mutating func next() -> Int {
        defer { position += 1 }
        return numbers[position % numbers.count] &+ position / numbers.count
    }

    static let keys = ["a", "b", "c", "mode", "target", "lights", "on"]

    /// An object of up to four members, nesting up to `depth` levels.
    mutating func object(depth: Int) -> JSONObject {
        var object = JSONObject()
        for _ in 0..<(abs(next()) % 4 + 1) {
            object[Self.keys[abs(next()) % Self.keys.count]] = value(depth: depth)
        }
        return object
    }

    mutating func value(depth: Int) -> JSONValue {
        switch abs(next()) % (depth > 1 ? 7 : 5) {
        case 0: return .integer(Int64(next() % 100))
        case 1: return .number(JSONNumber(Double(next() % 100) + 0.5))
        case 2: return .bool(next() % 2 == 0)
        case 3: return .string("v\(next() % 10)")
        case 4: return .array((0..<(abs(next()) % 3)).map { _ in .integer(Int64(next() % 10)) })
        default: return .object(object(depth: depth - 1))
        }
    }
}

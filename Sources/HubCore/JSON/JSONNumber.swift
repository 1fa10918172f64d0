/// A JSON number that remembers how it was written.
///
/// Integers that fit 64 bits stay integers; everything else is a `Double`. Two numbers are equal
/// when their values are equal, whatever their spelling (`1`, `1.0` and `1e0` are one number).
public struct JSONNumber: Sendable, CustomStringConvertible {
    public enum Value: Sendable {
        case integer(Int64)
        case double(Double)
    }

    public let value: Value
    /// The literal exactly as received, or the canonical spelling for numbers made in code.
    public let literal: String

    public init(_ integer: Int64) {
        value = .integer(integer)
        literal = String(integer)
    }

    public init(_ double: Double) {
        precondition(double.isFinite, "JSON has no spelling for \(double)")
        value = .double(double)
        literal = "\(double)"
    }

    /// A number parsed from `literal`, which must be valid JSON number syntax.
    init?(literal: String, isInteger: Bool) {
        if isInteger, let integer = Int64(literal) {
            value = .integer(integer)
        } else if let double = Double(literal), double.isFinite {
            value = .double(double)
        } else {
            return nil
        }
        self.literal = literal
    }

    public var description: String { literal }

    public var doubleValue: Double {
        switch value {
        case .integer(let integer): return Double(integer)
        case .double(let double): return double
        }
    }

    /// The value as an integer when it is one exactly (`3` and `3.0`, not `3.5`).
    public var exactInteger: Int64? {
        switch value {
        case .integer(let integer): return integer
        case .double(let double): return Int64(exactly: double)
        }
    }
}

extension JSONNumber: Equatable {
    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        switch (lhs.value, rhs.value) {
        case (.integer(let a), .integer(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.integer(let a), .double(let b)), (.double(let b), .integer(let a)):
            if let exact = Int64(exactly: b) { return exact == a }
            return false
        }
    }
}

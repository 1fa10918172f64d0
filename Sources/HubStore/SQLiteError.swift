/// A failed SQLite call: the result code, SQLite's message and the statement involved.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// SQLite's (extended) result code, e.g. 13 for SQLITE_FULL, 19 for SQLITE_CONSTRAINT.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let busy = Code(rawValue: 5)
        public static let full = Code(rawValue: 13)
        public static let constraint = Code(rawValue: 19)
        public static let ioError = Code(rawValue: 10)

        /// The primary code, without the extended bits.
        public var primary: Code { Code(rawValue: rawValue & 0xFF) }
    }

    public var code: Code
    public var message: String
    public var statement: String?

    public var description: String {
        var text = "SQLite error \(code.rawValue): \(message)"
        if let statement { text += " (in: \(statement.prefix(120)))" }
        return text
    }
}

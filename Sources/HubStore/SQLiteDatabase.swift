internal import CSQLite

/// One SQLite connection. It owns the `sqlite3` handle and is used from one thread at a time
/// (HubStore confines each connection to its own dispatch queue). Statements are prepared once
/// per SQL text and kept; ``finishJob()`` resets them after each job, so that none holds a read
/// transaction open between jobs (which would keep WAL checkpoints from completing).
final class SQLiteDatabase {
    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]
    private var used: [SQLiteStatement] = []
    let path: String

    init(path: String) throws(SQLiteError) {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        var db: OpaquePointer?
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw SQLiteError(code: .init(rawValue: status), message: "\(message): \(path)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
    }

    deinit {
        assert(handle == nil, "SQLiteDatabase for \(path) was not closed")
        if let handle { sqlite3_close_v2(handle) }
    }

    func close() {
        used = []
        statements = [:]  // finalized as they go
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    func execute(_ sql: String) throws(SQLiteError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        guard status == SQLITE_OK else {
            let message = errorMessage.map { String(cString: $0) } ?? "error"
            sqlite3_free(errorMessage)
            throw SQLiteError(code: .init(rawValue: status), message: message, statement: sql)
        }
    }

    /// The statement for `sql`, prepared the first time and reused after.
    func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = statements[sql] {
            cached.reset()
            used.append(cached)
            return cached
        }
        let statement = try prepareUncached(sql)
        statements[sql] = statement
        used.append(statement)
        return statement
    }

    /// Resets the statements the job used (their read snapshots end) and clears their bindings.
    func finishJob() {
        for statement in used { statement.reset() }
        used.removeAll(keepingCapacity: true)
    }

    private func prepareUncached(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status, sql) }
        return SQLiteStatement(statement: statement, database: self, sql: sql)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// A single integer from a query such as `PRAGMA synchronous`.
    func scalar(_ sql: String) throws(SQLiteError) -> Int64? {
        let statement = try prepare(sql)
        guard try statement.step() else { return nil }
        return statement.int64(at: 0)
    }

    /// A single text value from a query such as `PRAGMA integrity_check`.
    func text(_ sql: String) throws(SQLiteError) -> String? {
        let statement = try prepare(sql)
        guard try statement.step() else { return nil }
        return statement.string(at: 0)
    }

    func error(_ status: Int32, _ sql: String?) -> SQLiteError {
        SQLiteError(code: .init(rawValue: status), message: String(cString: sqlite3_errmsg(handle)), statement: sql)
    }
}

/// A prepared statement, finalised when released. Bind parameters are 1-based, columns 0-based.
final class SQLiteStatement {
    private let statement: OpaquePointer
    private let database: SQLiteDatabase
    let sql: String

    init(statement: OpaquePointer, database: SQLiteDatabase, sql: String) {
        self.statement = statement
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(statement) }

    func reset() {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        for (offset, value) in values.enumerated() {
            let position = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, position)
            case .integer(let integer): status = sqlite3_bind_int64(statement, position, integer)
            case .text(let text): status = sqlite3_bind_text(statement, position, text, -1, homehub_sqlite_transient())
            case .real(let real): status = sqlite3_bind_double(statement, position, real)
            }
            guard status == SQLITE_OK else { throw database.error(status, sql) }
        }
    }

    /// Advances to the next row; `false` when done.
    @discardableResult
    func step() throws(SQLiteError) -> Bool {
        let status = sqlite3_step(statement)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(status, sql)
        }
    }

    func run(_ values: [SQLiteValue] = []) throws(SQLiteError) {
        try bind(values)
        while try step() {}
    }

    func int64(at column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func double(at column: Int32) -> Double { sqlite3_column_double(statement, column) }

    func string(at column: Int32) -> String? {
        guard let text = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: text)
    }

    func isNull(at column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
}

enum SQLiteValue {
    case null
    case integer(Int64)
    case text(String)
    case real(Double)
}

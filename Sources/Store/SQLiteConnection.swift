import BerthCore
import CSQLite
import Glibc

/// SQLITE_TRANSIENT tells SQLite to copy bound buffers; the C macro does not import.
private let transient = unsafeBitCast(Int(-1), to: sqlite3_destructor_type.self)

enum SQLiteValue {
    case text(String)
    case blob([UInt8])
    case integer(Int64)
}

/// A thin layer over the SQLite C API: open, run statements with bound values,
/// read rows. Not thread-safe by itself; `SQLiteStore` serialises access.
struct SQLiteConnection: ~Copyable {
    private let handle: OpaquePointer
    private let path: String

    init(path: String) throws(BerthError) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw BerthError(.unavailable, "cannot open state database \(path): \(message)")
        }
        handle = db
        self.path = path
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { sqlite3_close_v2(handle) }

    /// Names the file and, for a failed read or write (a full or read-only disk), the OS's
    /// reason, which SQLite's own message ("database or disk is full") leaves out.
    private func failure(_ what: String) -> BerthError {
        var message = String(cString: sqlite3_errmsg(handle))
        let code = sqlite3_errcode(handle)
        // SQLite clears the OS error when it turns a short write into SQLITE_FULL.
        let systemError = code == SQLITE_FULL ? ENOSPC : sqlite3_system_errno(handle)
        if [SQLITE_IOERR, SQLITE_FULL, SQLITE_READONLY, SQLITE_CANTOPEN].contains(code), systemError != 0 {
            message += " (\(String(cString: strerror(systemError))))"
        }
        return BerthError(.internal, "state database \(path): \(what): \(message)")
    }

    func execute(_ sql: String) throws(BerthError) {
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw failure(sql) }
    }

    private func prepare(_ sql: String, _ values: [SQLiteValue]) throws(BerthError) -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw failure("prepare \(sql)")
        }
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            let status: Int32
            switch value {
            case .text(let text): status = sqlite3_bind_text(statement, position, text, -1, transient)
            case .integer(let number): status = sqlite3_bind_int64(statement, position, number)
            case .blob(let bytes):
                status = bytes.withUnsafeBytes { raw in
                    sqlite3_bind_blob(statement, position, raw.baseAddress, Int32(raw.count), transient)
                }
            }
            guard status == SQLITE_OK else {
                sqlite3_finalize(statement)
                throw failure("bind \(sql)")
            }
        }
        return statement
    }

    func run(_ sql: String, _ values: [SQLiteValue] = []) throws(BerthError) {
        let statement = try prepare(sql, values)
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_DONE else { throw failure(sql) }
    }

    func scalar(_ sql: String, _ values: [SQLiteValue] = []) throws(BerthError) -> Int64? {
        let statement = try prepare(sql, values)
        defer { sqlite3_finalize(statement) }
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return sqlite3_column_int64(statement, 0)
        case SQLITE_DONE: return nil
        default: throw failure(sql)
        }
    }

    /// Rows of (key TEXT, value BLOB, revision INTEGER).
    func query(_ sql: String, _ values: [SQLiteValue]) throws(BerthError) -> [KeyValueEntry] {
        let statement = try prepare(sql, values)
        defer { sqlite3_finalize(statement) }
        var rows: [KeyValueEntry] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw failure(sql) }
            let key = sqlite3_column_text(statement, 0).map { String(cString: $0) } ?? ""
            let count = Int(sqlite3_column_bytes(statement, 1))
            var value: [UInt8] = []
            if count > 0, let pointer = sqlite3_column_blob(statement, 1) {
                value = Array(UnsafeRawBufferPointer(start: pointer, count: count))
            }
            rows.append(KeyValueEntry(key: key, value: value, revision: sqlite3_column_int64(statement, 2)))
        }
        return rows
    }
}

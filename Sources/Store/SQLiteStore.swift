import BerthCore
import CSQLite
import Glibc
import Synchronization

/// The embedded store: one SQLite file under the daemon's root, WAL journal with
/// synchronous=FULL, so a transaction that returned (and the answer the client got after
/// it) survives `kill -9` of the daemon and power loss. The file and its WAL and shared
/// memory are root's only: records hold containers' environments.
public final class SQLiteStore: KeyValueStore {
    private let connection: Mutex<SQLiteConnection>

    public init(path: String) throws(BerthError) {
        try Self.createPrivately(path)
        let db = try SQLiteConnection(path: path)
        try db.execute("PRAGMA journal_mode=WAL")
        // FULL: every commit waits for the WAL to reach the disk. NORMAL would lose the
        // last commits, ones clients were told succeeded, on power loss.
        try db.execute("PRAGMA synchronous=FULL")
        try db.execute("""
            CREATE TABLE IF NOT EXISTS kv (
                key TEXT PRIMARY KEY NOT NULL,
                value BLOB NOT NULL,
                revision INTEGER NOT NULL
            ) WITHOUT ROWID
            """)
        try db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)")
        try db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0)")
        // SQLite gives the WAL and shared-memory files the database's mode when it makes
        // them; ones left by an older berth are made private here.
        for suffix in ["-wal", "-shm"] { chmod(path + suffix, 0o600) }
        connection = Mutex(db)
    }

    /// Creates the file 0600 before SQLite does (it would use 0644), makes an existing
    /// one 0600, and syncs the directory so a new file's name survives power loss.
    private static func createPrivately(_ path: String) throws(BerthError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw BerthError(.unavailable, "cannot open state database \(path): \(String(cString: strerror(errno)))")
        }
        let created = fchmod(fd, 0o600) == 0
        close(fd)
        guard created else {
            throw BerthError(.unavailable, "cannot make \(path) private: \(String(cString: strerror(errno)))")
        }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let directoryFD = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    public func get(_ key: String) throws(BerthError) -> KeyValueEntry? {
        try connection.withLock { db throws(BerthError) in
            try db.query("SELECT key, value, revision FROM kv WHERE key = ?", [.text(key)]).first
        }
    }

    public func list(prefix: String) throws(BerthError) -> [KeyValueEntry] {
        try connection.withLock { db throws(BerthError) in
            // Range scan on the primary key: everything >= prefix and < prefix + U+FFFF.
            try db.query(
                "SELECT key, value, revision FROM kv WHERE key >= ? AND key < ? ORDER BY key",
                [.text(prefix), .text(prefix + "\u{FFFF}")])
        }
    }

    @discardableResult
    public func apply(_ operations: [KeyValueOperation]) throws(BerthError) -> Int64 {
        try connection.withLock { db throws(BerthError) in
            try db.execute("BEGIN IMMEDIATE")
            do throws(BerthError) {
                let current = try db.scalar("SELECT value FROM meta WHERE name = 'revision'") ?? 0
                let next = current + 1
                for operation in operations {
                    switch operation {
                    case .put(let key, let value, let expected):
                        if let expected {
                            let existing = try db.scalar("SELECT revision FROM kv WHERE key = ?", [.text(key)]) ?? 0
                            guard existing == expected else {
                                throw BerthError.conflict("\(key) was changed concurrently (revision \(existing), expected \(expected))")
                            }
                        }
                        try db.run("INSERT INTO kv (key, value, revision) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, revision = excluded.revision",
                                   [.text(key), .blob(value), .integer(next)])
                    case .delete(let key, let expected):
                        if let expected {
                            let existing = try db.scalar("SELECT revision FROM kv WHERE key = ?", [.text(key)]) ?? 0
                            guard existing == expected else {
                                throw BerthError.conflict("\(key) was changed concurrently (revision \(existing), expected \(expected))")
                            }
                        }
                        try db.run("DELETE FROM kv WHERE key = ?", [.text(key)])
                    }
                }
                try db.run("UPDATE meta SET value = ? WHERE name = 'revision'", [.integer(next)])
                try db.execute("COMMIT")
                return next
            } catch {
                // The first error is the one to report; a failed ROLLBACK leaves nothing
                // committed either (SQLite rolls back an open transaction itself).
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }
}

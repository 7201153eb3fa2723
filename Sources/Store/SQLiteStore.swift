import BerthCore
import CSQLite
import Synchronization

/// The embedded store: one SQLite file under the daemon's root, WAL journal, so a
/// committed transaction survives `kill -9` of the daemon.
public final class SQLiteStore: KeyValueStore {
    private let connection: Mutex<SQLiteConnection>

    public init(path: String) throws(BerthError) {
        let db = try SQLiteConnection(path: path)
        try db.execute("PRAGMA journal_mode=WAL")
        // NORMAL in WAL mode loses nothing on a process crash, only on power loss.
        try db.execute("PRAGMA synchronous=NORMAL")
        try db.execute("""
            CREATE TABLE IF NOT EXISTS kv (
                key TEXT PRIMARY KEY NOT NULL,
                value BLOB NOT NULL,
                revision INTEGER NOT NULL
            ) WITHOUT ROWID
            """)
        try db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)")
        try db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0)")
        connection = Mutex(db)
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
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }
}

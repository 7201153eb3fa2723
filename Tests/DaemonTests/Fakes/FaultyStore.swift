import BerthCore
import Store
import Synchronization

/// The real SQLite store, with a way to make the next write touching a key fail (a full
/// or read-only disk), and a count of writes.
final class FaultyStore: KeyValueStore {
    let inner: SQLiteStore
    private let failing = Mutex<[String]>([])

    init(path: String) throws {
        inner = try SQLiteStore(path: path)
    }

    /// The next write of a key starting with `prefix` throws.
    func failNextWrite(to prefix: String) {
        failing.withLock { $0.append(prefix) }
    }

    func get(_ key: String) throws(BerthError) -> KeyValueEntry? { try inner.get(key) }

    func list(prefix: String) throws(BerthError) -> [KeyValueEntry] { try inner.list(prefix: prefix) }

    @discardableResult
    func apply(_ operations: [KeyValueOperation]) throws(BerthError) -> Int64 {
        let keys = operations.map(Self.key)
        let fail = failing.withLock { prefixes -> Bool in
            guard let index = prefixes.firstIndex(where: { prefix in keys.contains { $0.hasPrefix(prefix) } }) else { return false }
            prefixes.remove(at: index)
            return true
        }
        if fail { throw BerthError(.unavailable, "injected store failure: disk full") }
        return try inner.apply(operations)
    }

    private static func key(_ operation: KeyValueOperation) -> String {
        switch operation {
        case .put(let key, _, _): key
        case .delete(let key, _): key
        }
    }
}

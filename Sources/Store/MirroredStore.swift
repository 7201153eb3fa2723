import BerthCore
import Foundation
import Synchronization

/// The database with a copy of every record beside it, one file per key under
/// `directory` (0600, replaced in one rename). The copy is what lets berthd tell "the
/// database lost its records" (emptied, deleted, unreadable, or rolled back by a lost
/// WAL) from "there was nothing", and rebuild them (`berthd --recover`).
///
/// Order keeps the copy from ever claiming what the database did not hold: a put writes
/// the copy after the commit, a delete removes it before. So after any crash the copies'
/// keys are a subset of the database's, and a copy without a record means lost state.
public final class MirroredStore: KeyValueStore {
    public let database: any KeyValueStore
    public let directory: String
    /// One write at a time, so a put's copy cannot land after a later delete of its key.
    private let writing = Mutex(())

    public init(database: any KeyValueStore, directory: String) throws(BerthError) {
        self.database = database
        self.directory = directory
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw BerthError(.internal, "cannot create \(directory): \(Self.errorText(errno))")
        }
        chmod(directory, 0o700)
        removeUnfinishedCopies()
    }

    public func get(_ key: String) throws(BerthError) -> KeyValueEntry? { try database.get(key) }

    public func list(prefix: String) throws(BerthError) -> [KeyValueEntry] { try database.list(prefix: prefix) }

    @discardableResult
    public func apply(_ operations: [KeyValueOperation]) throws(BerthError) -> Int64 {
        try writing.withLock { _ throws(BerthError) in
            for case .delete(let key, _) in operations { removeCopy(of: key) }
            let revision = try database.apply(operations)
            for case .put(let key, let value, _) in operations { writeCopy(value, of: key) }
            return revision
        }
    }

    // MARK: the copies

    /// Keys that have a copy, sorted.
    public func copiedKeys() -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var keys: [String] = []
        while let relative = walker.nextObject() as? String {
            let name = relative.split(separator: "/").last.map(String.init) ?? relative
            guard !name.hasPrefix("."), Self.isValidKey(relative) else { continue }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                keys.append(relative)
            }
        }
        return keys.sorted()
    }

    public func copy(of key: String) -> [UInt8]? {
        guard Self.isValidKey(key), let data = FileManager.default.contents(atPath: directory + "/" + key) else { return nil }
        return Array(data)
    }

    /// Writes copies the database has and the directory lacks (an install from before
    /// the copies, or a crash between a delete's two steps); returns how many.
    @discardableResult
    public func writeMissingCopies() throws(BerthError) -> Int {
        let copied = Set(copiedKeys())
        var written = 0
        for entry in try database.list(prefix: "") where !copied.contains(entry.key) {
            writeCopy(entry.value, of: entry.key)
            written += 1
        }
        return written
    }

    /// Puts the records only the copies hold back into the database; returns their keys.
    public func restoreFromCopies() throws(BerthError) -> [String] {
        var restored: [String] = []
        for key in copiedKeys() where try database.get(key) == nil {
            guard let value = copy(of: key) else { continue }
            try database.apply([.put(key: key, value: value, expectedRevision: 0)])
            restored.append(key)
        }
        return restored
    }

    /// Removes copies of records the database does not hold (the user chose to trust the
    /// database as it is); returns their keys.
    public func discardCopiesWithoutRecords() throws(BerthError) -> [String] {
        var discarded: [String] = []
        for key in copiedKeys() where try database.get(key) == nil {
            removeCopy(of: key)
            discarded.append(key)
        }
        return discarded
    }

    // MARK: files

    /// Temporary files of copies a crash interrupted before their rename.
    private func removeUnfinishedCopies() {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return }
        while let relative = walker.nextObject() as? String {
            let name = relative.split(separator: "/").last.map(String.init) ?? relative
            if AtomicFile.isTemporary(name) { unlink(directory + "/" + relative) }
        }
    }

    /// Keys are the controller's own ("containers/<id>"): path segments, never "..".
    static func isValidKey(_ key: String) -> Bool {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        return !segments.isEmpty && segments.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("\0") }
    }

    /// A failed write removes the old copy instead: a missing copy is harmless (it is
    /// written again at the next start), a stale one could bring back a wrong record.
    private func writeCopy(_ value: [UInt8], of key: String) {
        guard Self.isValidKey(key) else { return }
        let path = directory + "/" + key
        let parent = (path as NSString).deletingLastPathComponent
        // A parent that cannot be made fails the write below, which removes the copy (above).
        if parent != directory { try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        do { try AtomicFile.write(Data(value), to: path, mode: 0o600) } catch { unlink(path) }
    }

    private func removeCopy(of key: String) {
        guard Self.isValidKey(key) else { return }
        unlink(directory + "/" + key)
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}

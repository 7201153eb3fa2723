import BerthCore

/// One stored value with the revision of its last write. Every write is
/// compare-and-swap on that revision, so two writers never silently overwrite each other.
public struct KeyValueEntry: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    public var revision: Int64

    public init(key: String, value: [UInt8], revision: Int64) {
        self.key = key
        self.value = value
        self.revision = revision
    }
}

/// A condition and a write, applied together or not at all.
public enum KeyValueOperation: Sendable {
    /// Write `value`; `expectedRevision` nil = unconditional, 0 = the key must not exist.
    case put(key: String, value: [UInt8], expectedRevision: Int64?)
    /// Delete; `expectedRevision` nil = unconditional (missing keys are fine).
    case delete(key: String, expectedRevision: Int64?)
}

/// The store the controller persists its objects in. The embedded implementation is
/// SQLite; the cluster one (etcd) has the same shape.
public protocol KeyValueStore: Sendable {
    func get(_ key: String) throws(BerthError) -> KeyValueEntry?
    func list(prefix: String) throws(BerthError) -> [KeyValueEntry]
    /// Applies every operation in one transaction; throws `.conflict` when a revision
    /// condition fails, and then nothing is written. Returns the new store revision.
    @discardableResult
    func apply(_ operations: [KeyValueOperation]) throws(BerthError) -> Int64
}

extension KeyValueStore {
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], expectedRevision: Int64? = nil) throws(BerthError) -> Int64 {
        try apply([.put(key: key, value: value, expectedRevision: expectedRevision)])
    }

    public func delete(_ key: String, expectedRevision: Int64? = nil) throws(BerthError) {
        try apply([.delete(key: key, expectedRevision: expectedRevision)])
    }
}

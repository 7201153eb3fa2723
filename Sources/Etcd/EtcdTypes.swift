/// An etcd lease: keys attached to it disappear when it expires or is revoked.
public struct LeaseID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}

/// One key as stored, with the revisions etcd keeps for it.
public struct KeyValue: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]
    /// Revision of the put that created the key (since its last delete).
    public var createRevision: Int64
    /// Revision of the last change.
    public var modRevision: Int64
    /// Number of puts since creation; 0 means absent.
    public var version: Int64
    /// The lease the key is attached to, if any.
    public var lease: LeaseID?

    public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: LeaseID?) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    public var valueString: String { String(decoding: value, as: UTF8.self) }
}

/// The answer to a range read: matching keys in key order and the store revision it was read at.
public struct RangeResult: Sendable, Equatable {
    public var kvs: [KeyValue]
    /// The store's revision when the read was served (response header).
    public var revision: Int64
    /// How many keys matched (can exceed `kvs.count` when limited).
    public var count: Int64
    /// More keys matched than were returned.
    public var more: Bool

    public var first: KeyValue? { kvs.first }
}

/// What a delete removed and the revision it created.
public struct DeleteResult: Sendable, Equatable {
    public var deleted: Int64
    public var revision: Int64
    /// The removed keys as they were (only when asked for).
    public var previous: [KeyValue]
}

/// A transaction guard: compares one key's field with a value.
public struct Compare: Sendable, Equatable {
    public enum Operator: String, Sendable {
        case equal = "EQUAL", greater = "GREATER", less = "LESS", notEqual = "NOT_EQUAL"
    }

    /// The field compared and the value to compare it with.
    public enum Target: Sendable, Equatable {
        /// 0 means the key does not exist.
        case version(Int64)
        /// 0 means the key does not exist.
        case createRevision(Int64)
        case modRevision(Int64)
        case value([UInt8])
        case lease(LeaseID?)
    }

    public var key: String
    public var op: Operator
    public var target: Target
    /// Compare every key under `key` instead of the one key. With no key there, etcd
    /// compares an absent key, so `createRevision == 0` means "nothing under this prefix".
    public var prefix: Bool

    public init(key: String, _ op: Operator, _ target: Target, prefix: Bool = false) {
        self.key = key
        self.op = op
        self.target = target
        self.prefix = prefix
    }

    /// Holds when no key exists under `prefix`.
    public static func prefixEmpty(_ prefix: String) -> Compare {
        Compare(key: prefix, .equal, .createRevision(0), prefix: true)
    }

    public static func version(_ key: String, _ op: Operator, _ version: Int64) -> Compare {
        Compare(key: key, op, .version(version))
    }
    public static func createRevision(_ key: String, _ op: Operator, _ revision: Int64) -> Compare {
        Compare(key: key, op, .createRevision(revision))
    }
    public static func modRevision(_ key: String, _ op: Operator, _ revision: Int64) -> Compare {
        Compare(key: key, op, .modRevision(revision))
    }
    public static func value(_ key: String, _ op: Operator, _ value: [UInt8]) -> Compare {
        Compare(key: key, op, .value(value))
    }
}

/// One operation inside a transaction.
public enum TxnOp: Sendable, Equatable {
    case put(key: String, value: [UInt8], lease: LeaseID?)
    /// Deletes the key, or every key under it when `prefix` is true.
    case delete(key: String, prefix: Bool)
    /// Reads the key, or every key under it when `prefix` is true.
    case range(key: String, prefix: Bool)
}

/// The result of one transaction operation, in the order the operations were given.
public enum TxnOpResult: Sendable, Equatable {
    case put(revision: Int64)
    case delete(DeleteResult)
    case range(RangeResult)
}

public struct TxnResult: Sendable, Equatable {
    /// True when every compare held and the success branch ran.
    public var succeeded: Bool
    public var revision: Int64
    public var responses: [TxnOpResult]
}

/// A lease's state after a keep-alive.
public enum LeaseState: Sendable, Equatable {
    /// The lease lives for `ttl` more seconds from now.
    case alive(ttl: Int64)
    /// The lease has expired or was revoked; its keys are gone.
    case gone
}

/// A member's answer to the maintenance status call.
public struct EtcdStatus: Sendable, Equatable {
    public var endpoint: EtcdEndpoint
    public var version: String
    public var memberID: UInt64
    /// Member ID of the current leader; 0 while there is none.
    public var leader: UInt64
    public var revision: Int64
    public var raftTerm: UInt64
    public var dbSize: Int64
    /// Alarms and other problems the member reports (etcd 3.4+).
    public var errors: [String]

    public var isLeader: Bool { leader != 0 && leader == memberID }
}

/// A change seen by a watch.
public enum WatchEvent: Sendable, Equatable {
    /// The key was created or changed; `kv` is its new state.
    case put(KeyValue)
    /// The key was deleted; `kv` has the key and the deleting revision (`modRevision`), empty value.
    case delete(KeyValue)
    /// The revision the watch had to resume from was compacted away: events were lost.
    /// The stream ends after this; re-list and start a new watch from the list's revision + 1.
    case compacted(revision: Int64)

    /// The revision of the change (or of the compaction).
    public var revision: Int64 {
        switch self {
        case .put(let kv), .delete(let kv): kv.modRevision
        case .compacted(let revision): revision
        }
    }
}

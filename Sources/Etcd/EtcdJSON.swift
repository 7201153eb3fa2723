import Foundation

// The gateway speaks proto3 JSON: bytes are base64 (Foundation's default for Data),
// 64-bit integers are quoted strings, enums are their names, and zero values (0, false,
// empty, the first enum case) are left out of answers. Requests accept snake_case names.

/// A 64-bit integer as proto3 JSON writes it: a quoted string (plain numbers are read too).
struct WireInt<Value: FixedWidthInteger & Codable & Sendable>: Codable, Sendable, Equatable {
    var value: Value
    init(_ value: Value) { self.value = value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Not a string is a real answer: the gateway also sends some as plain numbers.
        if let text = try? container.decode(String.self) {
            guard let value = Value(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an integer: \"\(text)\"")
            }
            self.value = value
        } else {
            self.value = try container.decode(Value.self)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(String(value))
    }
}

typealias WireInt64 = WireInt<Int64>
typealias WireUInt64 = WireInt<UInt64>

extension Optional {
    /// The value of an optional proto3 integer, whose absence means zero.
    func orZero<V>() -> V where Wrapped == WireInt<V> { self?.value ?? 0 }
}

enum Wire {
    /// The end of the range that holds every key starting with `prefix`: the prefix with its
    /// last byte that is not 0xff incremented and what follows dropped. An all-0xff (or empty)
    /// prefix has no upper bound, which etcd spells as the single byte 0.
    static func prefixRangeEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }

    static func bytes(_ key: String) -> Data { Data(key.utf8) }

    /// Key and range end for one key or a prefix. The empty prefix means every key, which
    /// etcd spells as key 0 with range end 0.
    static func range(_ key: String, prefix: Bool) -> (Data, Data?) {
        guard prefix else { return (bytes(key), nil) }
        let start = key.isEmpty ? Data([0]) : bytes(key)
        return (start, Data(prefixRangeEnd(Array(key.utf8))))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]  // stable bodies make tests and logs readable
        return encoder
    }()

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(bytes))
    }
}

// MARK: Requests

struct RangeRequest: Encodable, Equatable {
    var key: Data
    var range_end: Data?
    var limit: WireInt64?
    var revision: WireInt64?
    var count_only: Bool?
    var keys_only: Bool?

    init(key: String, prefix: Bool, limit: Int64? = nil, revision: Int64? = nil) {
        (self.key, range_end) = Wire.range(key, prefix: prefix)
        self.limit = limit.map(WireInt64.init)
        self.revision = revision.map(WireInt64.init)
    }
}

struct PutRequest: Encodable, Equatable {
    var key: Data
    var value: Data
    var lease: WireInt64?

    init(key: String, value: [UInt8], lease: LeaseID?) {
        self.key = Wire.bytes(key)
        self.value = Data(value)
        self.lease = lease.map { WireInt64($0.rawValue) }
    }
}

struct DeleteRangeRequest: Encodable, Equatable {
    var key: Data
    var range_end: Data?
    var prev_kv: Bool?

    init(key: String, prefix: Bool, previous: Bool = false) {
        (self.key, range_end) = Wire.range(key, prefix: prefix)
        if previous { prev_kv = true }
    }
}

struct CompareRequest: Encodable, Equatable {
    var result: String
    var target: String
    var key: Data
    var range_end: Data?
    var version: WireInt64?
    var create_revision: WireInt64?
    var mod_revision: WireInt64?
    var value: Data?
    var lease: WireInt64?

    init(_ compare: Compare) {
        result = compare.op.rawValue
        (key, range_end) = Wire.range(compare.key, prefix: compare.prefix)
        switch compare.target {
        case .version(let v):
            target = "VERSION"
            version = WireInt64(v)
        case .createRevision(let r):
            target = "CREATE"
            create_revision = WireInt64(r)
        case .modRevision(let r):
            target = "MOD"
            mod_revision = WireInt64(r)
        case .value(let bytes):
            target = "VALUE"
            value = Data(bytes)
        case .lease(let id):
            target = "LEASE"
            lease = WireInt64(id?.rawValue ?? 0)
        }
    }
}

struct RequestOp: Encodable, Equatable {
    var request_range: RangeRequest?
    var request_put: PutRequest?
    var request_delete_range: DeleteRangeRequest?

    init(_ op: TxnOp) {
        switch op {
        case .put(let key, let value, let lease):
            request_put = PutRequest(key: key, value: value, lease: lease)
        case .delete(let key, let prefix):
            request_delete_range = DeleteRangeRequest(key: key, prefix: prefix)
        case .range(let key, let prefix):
            request_range = RangeRequest(key: key, prefix: prefix)
        }
    }
}

struct TxnRequest: Encodable, Equatable {
    var compare: [CompareRequest]
    var success: [RequestOp]
    var failure: [RequestOp]
}

struct LeaseGrantRequest: Encodable {
    var TTL: WireInt64
}

struct LeaseIDRequest: Encodable {
    var ID: WireInt64
}

struct CompactionRequest: Encodable {
    var revision: WireInt64
    var physical: Bool
}

struct WatchCreateRequest: Encodable, Equatable {
    struct Create: Encodable, Equatable {
        var key: Data
        var range_end: Data?
        var start_revision: WireInt64?
    }
    var create_request: Create

    init(key: String, prefix: Bool, startRevision: Int64?) {
        let (start, end) = Wire.range(key, prefix: prefix)
        create_request = Create(key: start, range_end: end, start_revision: startRevision.map(WireInt64.init))
    }
}

struct EmptyRequest: Encodable {}

// MARK: Responses

struct ResponseHeader: Decodable {
    var cluster_id: WireUInt64?
    var member_id: WireUInt64?
    var revision: WireInt64?
    var raft_term: WireUInt64?
}

struct WireKeyValue: Decodable {
    init() {}

    var key: Data?
    var value: Data?
    var create_revision: WireInt64?
    var mod_revision: WireInt64?
    var version: WireInt64?
    var lease: WireInt64?

    var model: KeyValue {
        let leaseID = lease.orZero()
        return KeyValue(
            key: String(decoding: key ?? Data(), as: UTF8.self),
            value: Array(value ?? Data()),
            createRevision: create_revision.orZero(),
            modRevision: mod_revision.orZero(),
            version: version.orZero(),
            lease: leaseID == 0 ? nil : LeaseID(leaseID)
        )
    }
}

struct RangeResponse: Decodable {
    var header: ResponseHeader?
    var kvs: [WireKeyValue]?
    var more: Bool?
    var count: WireInt64?

    var model: RangeResult {
        RangeResult(
            kvs: (kvs ?? []).map(\.model),
            revision: header?.revision.orZero() ?? 0,
            count: count.orZero(),
            more: more ?? false
        )
    }
}

struct PutResponse: Decodable {
    var header: ResponseHeader?
}

struct DeleteRangeResponse: Decodable {
    var header: ResponseHeader?
    var deleted: WireInt64?
    var prev_kvs: [WireKeyValue]?

    var model: DeleteResult {
        DeleteResult(deleted: deleted.orZero(), revision: header?.revision.orZero() ?? 0, previous: (prev_kvs ?? []).map(\.model))
    }
}

struct ResponseOp: Decodable {
    var response_range: RangeResponse?
    var response_put: PutResponse?
    var response_delete_range: DeleteRangeResponse?
}

struct TxnResponse: Decodable {
    var header: ResponseHeader?
    var succeeded: Bool?
    var responses: [ResponseOp]?

    /// The model, or nil when an operation's result has none of the known shapes.
    var model: TxnResult? {
        var results: [TxnOpResult] = []
        for op in responses ?? [] {
            if let range = op.response_range {
                results.append(.range(range.model))
            } else if let put = op.response_put {
                results.append(.put(revision: put.header?.revision.orZero() ?? 0))
            } else if let delete = op.response_delete_range {
                results.append(.delete(delete.model))
            } else {
                return nil
            }
        }
        return TxnResult(succeeded: succeeded ?? false, revision: header?.revision.orZero() ?? 0, responses: results)
    }
}

struct LeaseGrantResponse: Decodable {
    var header: ResponseHeader?
    var ID: WireInt64?
    var TTL: WireInt64?
    var error: String?
}

/// Keep-alive is a gRPC stream, so the gateway wraps its answer in `result`.
struct LeaseKeepAliveResponse: Decodable {
    struct Result: Decodable {
        var header: ResponseHeader?
        var ID: WireInt64?
        var TTL: WireInt64?
    }
    var result: Result?
    var error: GatewayError?
}

struct StatusResponse: Decodable {
    var header: ResponseHeader?
    var version: String?
    // etcd 3.4 writes these in camelCase (their proto json_name); newer gateways may use
    // snake_case, so both are read.
    var dbSize: WireInt64?
    var db_size: WireInt64?
    var leader: WireUInt64?
    var raftTerm: WireUInt64?
    var raft_term: WireUInt64?
    var errors: [String]?
}

/// A gateway error body. Unary calls give `{"error": "text", "message": "text", "code": 5}`;
/// streams give `{"error": {"grpc_code": 14, "http_code": 503, "message": "text", ...}}`.
struct GatewayError: Decodable, Equatable {
    var message: String
    var code: Int?

    private enum Keys: String, CodingKey { case error, message, code, grpc_code }

    init(message: String, code: Int?) {
        self.message = message
        self.code = code
    }

    init(from decoder: any Decoder) throws {
        // Either the whole `{"error": ..., "code": ...}` object or the inner stream object.
        let container = try decoder.container(keyedBy: Keys.self)
        // Either key, either form: a field of another shape is absent for this purpose, and
        // the guard below refuses a body with nothing usable.
        let code = (try? container.decodeIfPresent(Int.self, forKey: .code)) ?? (try? container.decodeIfPresent(Int.self, forKey: .grpc_code))
        let message = (try? container.decodeIfPresent(String.self, forKey: .message))
            ?? (try? container.decodeIfPresent(String.self, forKey: .error))
        guard let message, !message.isEmpty || code != nil else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "no error message"))
        }
        self.init(message: message, code: code)
    }
}

/// Only for spotting an error body: `{"error": ...}` in either form.
struct ErrorEnvelope: Decodable {
    var error: GatewayError?

    private enum Keys: String, CodingKey { case error }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        // A string here is the unary form; anything else is decoded (and reported) below.
        if (try? container.decodeIfPresent(String.self, forKey: .error)) != nil {
            error = try GatewayError(from: decoder)  // unary form: fields at top level
        } else {
            error = try container.decodeIfPresent(GatewayError.self, forKey: .error)
        }
    }
}

/// One object of the watch stream.
struct WatchResponse: Decodable {
    struct Result: Decodable {
        var header: ResponseHeader?
        var watch_id: WireInt64?
        var created: Bool?
        var canceled: Bool?
        var compact_revision: WireInt64?
        var cancel_reason: String?
        var events: [WireEvent]?
    }
    struct WireEvent: Decodable {
        var type: String?  // absent means PUT, the enum's zero value
        var kv: WireKeyValue?
    }
    var result: Result?
    var error: GatewayError?
}

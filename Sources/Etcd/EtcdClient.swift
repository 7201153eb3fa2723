import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL

/// An etcd v3 client over the JSON gateway (`/v3/...`) of any member in `endpoints`.
///
/// Requests go to one member at a time, the last one that answered. A member that can't
/// be reached, times out, or says it is unavailable (no leader, leader changed) is skipped
/// for the next, for up to `rounds` passes over the list, so losing a member (even the
/// leader) costs a caller a retry, not an error. Each member has a small pool of kept-alive
/// HTTP/1.1 connections.
///
/// A write whose connection broke after it was sent is retried too; etcd may have applied
/// it, so a retried `createIfAbsent` or `compareAndSwap` can report false for a write that
/// in fact took effect. Callers that care re-read the key.
public final class EtcdClient: Sendable {
    public typealias Endpoint = EtcdEndpoint

    public let endpoints: [EtcdEndpoint]
    /// Time allowed for connecting and for each answer.
    public let timeout: Duration
    let pools: [ConnectionPool]
    /// Index of the member that answered last; requests start there.
    private let preferred = NIOLockedValueBox(0)
    /// Passes over the endpoint list before giving up, with a pause between passes so a
    /// cluster can elect a leader.
    let rounds = 3
    let roundPause: Duration = .milliseconds(300)

    public init(endpoints: [EtcdEndpoint], tls: EtcdTLS? = nil, timeout: Duration = .seconds(5)) throws {
        guard !endpoints.isEmpty else { throw EtcdError.invalidEndpoint("", reason: "no endpoints") }
        guard timeout > .zero else { throw EtcdError.invalidArgument("timeout must be positive") }
        // https endpoints without explicit TLS settings use the system's trust roots.
        let context: NIOSSLContext?
        if let tls {
            context = try tls.makeContext()
        } else if endpoints.contains(where: \.useTLS) {
            context = try EtcdTLS().makeContext()
        } else {
            context = nil
        }
        self.endpoints = endpoints
        self.timeout = timeout
        self.pools = endpoints.map { ConnectionPool(endpoint: $0, tls: $0.useTLS ? context : nil) }
    }

    /// A client for a `--cluster-store` value such as `etcd://10.0.0.1:2379,10.0.0.2:2379`.
    public convenience init(url: String, tls: EtcdTLS? = nil, timeout: Duration = .seconds(5)) throws {
        try self.init(endpoints: EtcdEndpoint.parseList(url, tls: tls != nil), tls: tls, timeout: timeout)
    }

    /// Closes pooled connections. Watches end on their own when their consumer stops.
    public func close() async {
        for pool in pools { await pool.closeAll() }
    }

    // MARK: Keys

    /// The key, if present (`first` of the result), and the store revision.
    public func get(_ key: String, revision: Int64? = nil) async throws -> RangeResult {
        try checkKey(key)
        return try await call("/v3/kv/range", RangeRequest(key: key, prefix: false, revision: revision), as: RangeResponse.self).model
    }

    /// Every key starting with `prefix`, in key order.
    public func getPrefix(_ prefix: String, limit: Int64? = nil, revision: Int64? = nil) async throws -> RangeResult {
        try await call("/v3/kv/range", RangeRequest(key: prefix, prefix: true, limit: limit, revision: revision), as: RangeResponse.self).model
    }

    /// Stores the value; returns the revision of the write.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: LeaseID? = nil) async throws -> Int64 {
        try checkKey(key)
        let response = try await call("/v3/kv/put", PutRequest(key: key, value: value, lease: lease), as: PutResponse.self)
        return response.header?.revision.orZero() ?? 0
    }

    @discardableResult
    public func put(_ key: String, _ value: String, lease: LeaseID? = nil) async throws -> Int64 {
        try await put(key, Array(value.utf8), lease: lease)
    }

    @discardableResult
    public func delete(_ key: String) async throws -> DeleteResult {
        try checkKey(key)
        return try await call("/v3/kv/deleterange", DeleteRangeRequest(key: key, prefix: false), as: DeleteRangeResponse.self).model
    }

    @discardableResult
    public func deletePrefix(_ prefix: String) async throws -> DeleteResult {
        try await call("/v3/kv/deleterange", DeleteRangeRequest(key: prefix, prefix: true), as: DeleteRangeResponse.self).model
    }

    /// Runs `success` if every compare holds, else `failure`, atomically.
    public func txn(compare: [Compare], success: [TxnOp], failure: [TxnOp] = []) async throws -> TxnResult {
        let request = TxnRequest(
            compare: compare.map(CompareRequest.init),
            success: success.map(RequestOp.init),
            failure: failure.map(RequestOp.init)
        )
        let (endpoint, response) = try await callWithEndpoint("/v3/kv/txn", request, as: TxnResponse.self)
        guard let model = response.model else {
            throw EtcdError.malformedResponse(endpoint: endpoint, path: "/v3/kv/txn", reason: "an operation result of unknown kind")
        }
        return model
    }

    /// Creates the key only if it does not exist; true if this call created it.
    public func createIfAbsent(_ key: String, _ value: [UInt8], lease: LeaseID? = nil) async throws -> Bool {
        try checkKey(key)
        return try await txn(
            compare: [.createRevision(key, .equal, 0)],
            success: [.put(key: key, value: value, lease: lease)]
        ).succeeded
    }

    /// Replaces the value only if the key was last changed at `expectedModRevision`; true if
    /// this call replaced it.
    public func compareAndSwap(_ key: String, expectedModRevision: Int64, newValue: [UInt8], lease: LeaseID? = nil) async throws -> Bool {
        try checkKey(key)
        return try await txn(
            compare: [.modRevision(key, .equal, expectedModRevision)],
            success: [.put(key: key, value: newValue, lease: lease)]
        ).succeeded
    }

    /// Drops history before `revision`; watches and reads from older revisions then fail
    /// as compacted. `physical` waits until the space is actually freed.
    public func compact(revision: Int64, physical: Bool = true) async throws {
        _ = try await call("/v3/kv/compaction", CompactionRequest(revision: WireInt64(revision), physical: physical), as: PutResponse.self)
    }

    // MARK: Health

    /// The status of the first member that answers: the start-up health check. When none
    /// does, the error says what each endpoint answered.
    public func status() async throws -> EtcdStatus {
        let (endpoint, response) = try await callWithEndpoint("/v3/maintenance/status", EmptyRequest(), as: StatusResponse.self)
        return Self.status(response, endpoint: endpoint)
    }

    /// The status of one member, without failing over to the others.
    public func status(of endpoint: EtcdEndpoint) async throws -> EtcdStatus {
        guard let pool = pools.first(where: { $0.endpoint == endpoint }) else {
            throw EtcdError.invalidArgument("\(endpoint) is not one of this client's endpoints")
        }
        let path = "/v3/maintenance/status"
        let bytes = try await exchange(on: pool, path, body: try Wire.encode(EmptyRequest()))
        return Self.status(try decode(StatusResponse.self, bytes, endpoint: endpoint, path: path), endpoint: endpoint)
    }

    static func status(_ response: StatusResponse, endpoint: EtcdEndpoint) -> EtcdStatus {
        EtcdStatus(
            endpoint: endpoint,
            version: response.version ?? "",
            memberID: response.header?.member_id.orZero() ?? 0,
            leader: response.leader.orZero(),
            revision: response.header?.revision.orZero() ?? 0,
            raftTerm: (response.raftTerm ?? response.raft_term).orZero(),
            dbSize: (response.dbSize ?? response.db_size).orZero(),
            errors: response.errors ?? []
        )
    }

    // MARK: Transport

    private func checkKey(_ key: String) throws {
        if key.isEmpty { throw EtcdError.invalidArgument("empty key") }
    }

    func call<Response: Decodable>(_ path: String, _ request: some Encodable, as type: Response.Type) async throws -> Response {
        try await callWithEndpoint(path, request, as: type).1
    }

    /// Sends the request to the members in turn until one answers; returns who answered.
    func callWithEndpoint<Response: Decodable>(_ path: String, _ request: some Encodable, as type: Response.Type) async throws -> (EtcdEndpoint, Response) {
        let body = try Wire.encode(request)
        return try await withFailover(path) { pool in
            let bytes = try await self.exchange(on: pool, path, body: body)
            return (pool.endpoint, try self.decode(type, bytes, endpoint: pool.endpoint, path: path))
        }
    }

    /// Runs `attempt` on the preferred member, then on the others, for `rounds` passes.
    /// Only retryable failures move on; the last failure of each member is reported if all fail.
    func withFailover<T>(_ path: String, _ attempt: (ConnectionPool) async throws -> T) async throws -> T {
        var lastFailure: [EtcdEndpoint: EtcdError] = [:]
        for round in 0..<rounds {
            if round > 0 { try await Task.sleep(for: roundPause * round) }
            let start = preferred.withLockedValue { $0 }
            for step in 0..<pools.count {
                let index = (start + step) % pools.count
                do {
                    let result = try await attempt(pools[index])
                    preferred.withLockedValue { $0 = index }
                    return result
                } catch let error as EtcdError where error.isRetryable {
                    lastFailure[pools[index].endpoint] = error
                }
            }
        }
        throw EtcdError.unavailable(path: path, attempts: endpoints.compactMap { lastFailure[$0] })
    }

    /// Moves the preferred member past `endpoint` (used by watches that lost it).
    func skip(_ endpoint: EtcdEndpoint) {
        guard let index = endpoints.firstIndex(of: endpoint) else { return }
        preferred.withLockedValue { current in
            if current == index { current = (index + 1) % endpoints.count }
        }
    }

    var preferredPool: ConnectionPool { pools[preferred.withLockedValue { $0 }] }

    /// One request and its whole response on a pooled connection of one member. A non-200
    /// answer becomes `EtcdError.server` (or `.compacted`) with what etcd said.
    func exchange(on pool: ConnectionPool, _ path: String, body: [UInt8]) async throws -> [UInt8] {
        let connection = try await pool.acquire(timeout: timeout)
        var head: HTTPResponseHead?
        var bytes: [UInt8] = []
        do {
            let stream = try await connection.post(path, body: body, timeout: timeout, streaming: false)
            for try await part in stream {
                switch part {
                case .head(let h): head = h
                case .body(let buffer): bytes += buffer.readableBytesView
                }
            }
            try Task.checkCancellation()
        } catch let error as CancellationError {
            connection.close()
            throw error
        } catch {
            connection.close()
            throw HTTPConnection.translate(error, endpoint: pool.endpoint, path: path, timeout: timeout)
        }
        guard let head else {
            connection.close()
            throw EtcdError.connectionLost(endpoint: pool.endpoint, path: path, reason: "no response")
        }
        await pool.release(connection)
        guard head.status == .ok else {
            throw Self.serverError(status: Int(head.status.code), body: bytes, endpoint: pool.endpoint, path: path)
        }
        return bytes
    }

    static func serverError(status: Int, body: [UInt8], endpoint: EtcdEndpoint, path: String) -> EtcdError {
        // A body that is not the gateway's error shape is shown as text instead.
        let parsed = (try? Wire.decode(ErrorEnvelope.self, from: body))?.error
        let message = parsed?.message ?? String(decoding: body.prefix(500), as: UTF8.self)
        if parsed?.code == GRPCCode.outOfRange, message.contains("compacted") {
            return .compacted(endpoint: endpoint, path: path, message: message)
        }
        return .server(endpoint: endpoint, path: path, httpStatus: status, grpcCode: parsed?.code, message: message)
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], endpoint: EtcdEndpoint, path: String) throws -> T {
        do {
            return try Wire.decode(type, from: bytes)
        } catch {
            throw EtcdError.malformedResponse(endpoint: endpoint, path: path, reason: "\(error)")
        }
    }
}

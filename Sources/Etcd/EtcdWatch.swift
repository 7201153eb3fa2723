import NIOCore
import NIOHTTP1

extension EtcdClient {
    /// Changes to every key under `prefix`, from `fromRevision` on (inclusive), or from now
    /// when nil. A broken connection is resumed on the next member from the revision after
    /// the last event seen, so no change is lost or repeated. If that revision was compacted
    /// meanwhile, the stream yields `.compacted(revision)` and ends: re-list, then watch again
    /// from the list's revision + 1. When no member can be reached for `watchRetryWindow`
    /// the stream throws `.unavailable`. Cancelling the consuming task ends the watch.
    public func watch(prefix: String, fromRevision: Int64? = nil) -> AsyncThrowingStream<WatchEvent, any Error> {
        watchStream(key: prefix, prefix: true, fromRevision: fromRevision)
    }

    /// Changes to one key; see `watch(prefix:fromRevision:)`.
    public func watch(key: String, fromRevision: Int64? = nil) -> AsyncThrowingStream<WatchEvent, any Error> {
        watchStream(key: key, prefix: false, fromRevision: fromRevision)
    }

    /// How long a watch keeps trying to reconnect before it gives up.
    public var watchRetryWindow: Duration { max(timeout * 3, .seconds(30)) }

    private func watchStream(key: String, prefix: Bool, fromRevision: Int64?) -> AsyncThrowingStream<WatchEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream()
        let task = Task { [self] in
            do {
                try await self.runWatch(key: key, prefix: prefix, fromRevision: fromRevision, continuation)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Where a watch stands: the revision to resume from (nil until known), and whether the
    /// current connection has been accepted by etcd (which ends a spell of failures).
    struct WatchProgress {
        var next: Int64?
        var established = false
    }

    private func runWatch(
        key: String, prefix: Bool, fromRevision: Int64?,
        _ continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation
    ) async throws {
        let path = "/v3/watch"
        let clock = ContinuousClock()
        var progress = WatchProgress(next: fromRevision)
        var failingSince: ContinuousClock.Instant?
        var failures: [EtcdEndpoint: EtcdError] = [:]
        var pause: Duration = .milliseconds(100)
        while true {
            try Task.checkCancellation()
            let pool = preferredPool
            progress.established = false
            do {
                if try await watchOnce(pool, key: key, prefix: prefix, &progress, continuation) {
                    return  // compacted: the caller must start over
                }
                throw EtcdError.connectionLost(endpoint: pool.endpoint, path: path, reason: "watch stream ended")
            } catch let error as EtcdError where error.isRetryable {
                try Task.checkCancellation()
                skip(pool.endpoint)
                failures[pool.endpoint] = error
                if progress.established {
                    // It worked until now: this is a fresh spell of trouble.
                    failingSince = nil
                    pause = .milliseconds(100)
                }
                let since = failingSince ?? clock.now
                failingSince = since
                if clock.now - since > watchRetryWindow {
                    throw EtcdError.unavailable(path: path, attempts: endpoints.compactMap { failures[$0] })
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(1))
            }
        }
    }

    /// One watch request on a connection of its own, until it breaks. Returns true when etcd
    /// reported compaction (after yielding `.compacted`).
    private func watchOnce(
        _ pool: ConnectionPool, key: String, prefix: Bool, _ progress: inout WatchProgress,
        _ continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation
    ) async throws -> Bool {
        let path = "/v3/watch"
        let endpoint = pool.endpoint
        let body = try Wire.encode(WatchCreateRequest(key: key, prefix: prefix, startRevision: progress.next))
        let connection = try await pool.dedicated(timeout: timeout)
        defer { connection.close() }
        var head: HTTPResponseHead?
        var errorBody: [UInt8] = []
        var splitter = WatchStreamSplitter()
        do {
            let stream = try await connection.post(path, body: body, timeout: timeout, streaming: true)
            for try await part in stream {
                switch part {
                case .head(let h):
                    head = h
                case .body(let buffer) where head?.status != .ok:
                    errorBody += buffer.readableBytesView
                case .body(let buffer):
                    for object in splitter.feed(Array(buffer.readableBytesView)) {
                        let update: WatchUpdate
                        do {
                            update = try WatchUpdate.decode(object)
                        } catch {
                            throw EtcdError.malformedResponse(endpoint: endpoint, path: path, reason: "\(error)")
                        }
                        switch update {
                        case .created(let revision):
                            progress.established = true
                            if progress.next == nil { progress.next = revision + 1 }
                        case .events(let events):
                            for event in events {
                                continuation.yield(event)
                                progress.next = event.revision + 1
                            }
                        case .progress(let revision):
                            progress.next = max(progress.next ?? 0, revision + 1)
                        case .compacted(let revision):
                            continuation.yield(.compacted(revision: revision))
                            return true
                        case .canceled(let reason):
                            throw EtcdError.watchCanceled(reason: reason)
                        case .failed(let error):
                            throw EtcdError.server(endpoint: endpoint, path: path, httpStatus: 200, grpcCode: error.code, message: error.message)
                        }
                    }
                }
            }
            try Task.checkCancellation()
        } catch let error as EtcdError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            throw HTTPConnection.translate(error, endpoint: endpoint, path: path, timeout: timeout)
        }
        if let head, head.status != .ok {
            throw Self.serverError(status: Int(head.status.code), body: errorBody, endpoint: endpoint, path: path)
        }
        return false
    }
}

/// Splits the watch stream into its JSON objects. The gateway ends each with a newline;
/// HTTP chunks may cut anywhere, so bytes wait for theirs.
struct WatchStreamSplitter {
    private var pending: [UInt8] = []

    mutating func feed(_ bytes: [UInt8]) -> [[UInt8]] {
        pending += bytes
        var objects: [[UInt8]] = []
        var start = pending.startIndex
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[start..<newline]
            if line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) {
                objects.append(Array(line))
            }
            start = newline + 1
        }
        pending.removeSubrange(..<start)
        return objects
    }
}

/// What one object of the watch stream means for the watcher.
enum WatchUpdate: Equatable {
    /// The watch is in place; the store was at `revision`.
    case created(revision: Int64)
    case events([WatchEvent])
    /// Nothing changed up to `revision` (progress notification).
    case progress(revision: Int64)
    /// The start revision is gone; history begins after `revision`.
    case compacted(revision: Int64)
    case canceled(reason: String)
    case failed(GatewayError)

    static func decode(_ bytes: [UInt8]) throws -> WatchUpdate {
        let response = try Wire.decode(WatchResponse.self, from: bytes)
        if let error = response.error { return .failed(error) }
        guard let result = response.result else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "neither result nor error"))
        }
        let compactRevision = result.compact_revision.orZero()
        if compactRevision > 0 { return .compacted(revision: compactRevision) }
        if result.canceled == true { return .canceled(reason: result.cancel_reason ?? "no reason given") }
        let revision = result.header?.revision.orZero() ?? 0
        if result.created == true { return .created(revision: revision) }
        let events = result.events ?? []
        if events.isEmpty { return .progress(revision: revision) }
        return .events(events.map { event in
            let kv = (event.kv ?? WireKeyValue()).model
            return event.type == "DELETE" ? .delete(kv) : .put(kv)
        })
    }
}

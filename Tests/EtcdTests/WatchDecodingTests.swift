import Testing
@testable import Etcd

/// The watch stream as etcd 3.4.23's gateway sent it: one JSON object per line.
@Suite("Watch stream decoding")
struct WatchDecodingTests {
    static let created = #"{"result":{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"6","raft_term":"2"},"created":true}}"#
    static let put = #"{"result":{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"7","raft_term":"2"},"events":[{"kv":{"key":"L2JlcnRoL3c=","create_revision":"7","mod_revision":"7","version":"1","value":"d3Y="}}]}}"#
    static let delete = #"{"result":{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"8","raft_term":"2"},"events":[{"type":"DELETE","kv":{"key":"L2JlcnRoL3c=","mod_revision":"8"}}]}}"#
    static let compacted = #"{"result":{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","raft_term":"2"},"canceled":true,"compact_revision":"7"}}"#

    func decode(_ text: String) throws -> WatchUpdate { try WatchUpdate.decode(Array(text.utf8)) }

    @Test func createdPutDelete() throws {
        #expect(try decode(Self.created) == .created(revision: 6))
        #expect(try decode(Self.put) == .events([
            .put(KeyValue(key: "/berth/w", value: Array("wv".utf8), createRevision: 7, modRevision: 7, version: 1, lease: nil)),
        ]))
        #expect(try decode(Self.delete) == .events([
            .delete(KeyValue(key: "/berth/w", value: [], createRevision: 0, modRevision: 8, version: 0, lease: nil)),
        ]))
    }

    @Test func compactionIsItsOwnSignal() throws {
        #expect(try decode(Self.compacted) == .compacted(revision: 7))
        #expect(WatchEvent.compacted(revision: 7).revision == 7)
    }

    @Test func streamErrorsAndCancels() throws {
        let error = #"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#
        #expect(try decode(error) == .failed(GatewayError(message: "etcdserver: no leader", code: 14)))
        let canceled = #"{"result":{"header":{"revision":"9"},"canceled":true,"cancel_reason":"permission denied"}}"#
        #expect(try decode(canceled) == .canceled(reason: "permission denied"))
        let progress = #"{"result":{"header":{"revision":"12"}}}"#
        #expect(try decode(progress) == .progress(revision: 12))
        #expect(throws: (any Error).self) { try decode(#"{"something":"else"}"#) }
        #expect(throws: (any Error).self) { try decode("not json") }
    }

    @Test func splitterWaitsForWholeLines() throws {
        let stream = Array((Self.created + "\n" + Self.put + "\n" + Self.delete + "\n").utf8)
        // Every cut point, as HTTP chunks may fall anywhere.
        for cut in stride(from: 1, to: stream.count, by: 7) {
            var splitter = WatchStreamSplitter()
            var objects = splitter.feed(Array(stream[..<cut]))
            objects += splitter.feed(Array(stream[cut...]))
            #expect(objects.map { String(decoding: $0, as: UTF8.self) } == [Self.created, Self.put, Self.delete])
        }
        var splitter = WatchStreamSplitter()
        #expect(splitter.feed(Array("\r\n\n{\"a\":1}".utf8)).isEmpty)  // blank lines skipped, last line incomplete
        #expect(splitter.feed(Array("\n".utf8)) == [Array("{\"a\":1}".utf8)])
    }
}

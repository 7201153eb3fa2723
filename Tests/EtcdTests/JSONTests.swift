import Foundation
import Testing
@testable import Etcd

/// Request bodies as the gateway expects them, and real etcd 3.4.23 answers decoded.
@Suite("Gateway JSON")
struct JSONTests {
    func json(_ value: some Encodable) throws -> String {
        String(decoding: try Wire.encode(value), as: UTF8.self)
    }

    @Test func prefixRangeEndIncrementsTheLastByte() {
        #expect(Wire.prefixRangeEnd(Array("/berth/".utf8)) == Array("/berth0".utf8))
        #expect(Wire.prefixRangeEnd([0x61, 0xff]) == [0x62])
        #expect(Wire.prefixRangeEnd([0xff, 0xff]) == [0])
        #expect(Wire.prefixRangeEnd([]) == [0])
    }

    @Test func rangeRequests() throws {
        // "/berth/" and "/berth0" in base64
        #expect(try json(RangeRequest(key: "/berth/", prefix: true)) == #"{"key":"L2JlcnRoLw==","range_end":"L2JlcnRoMA=="}"#)
        #expect(try json(RangeRequest(key: "/berth/a", prefix: false, revision: 12)) == #"{"key":"L2JlcnRoL2E=","revision":"12"}"#)
        // The empty prefix is every key: key and range end both the zero byte.
        #expect(try json(RangeRequest(key: "", prefix: true)) == #"{"key":"AA==","range_end":"AA=="}"#)
    }

    @Test func putAndDeleteRequests() throws {
        #expect(try json(PutRequest(key: "k", value: Array("v1".utf8), lease: LeaseID(4111120232405637129)))
            == #"{"key":"aw==","lease":"4111120232405637129","value":"djE="}"#)
        #expect(try json(PutRequest(key: "k", value: [], lease: nil)) == #"{"key":"aw==","value":""}"#)
        #expect(try json(DeleteRangeRequest(key: "/n/", prefix: true)) == #"{"key":"L24v","range_end":"L24w"}"#)
    }

    @Test func txnRequest() throws {
        let request = TxnRequest(
            compare: [
                CompareRequest(.createRevision("/c", .equal, 0)),
                CompareRequest(.modRevision("/c", .less, 7)),
                CompareRequest(.version("/c", .greater, 2)),
                CompareRequest(.value("/c", .notEqual, Array("x".utf8))),
            ],
            success: [RequestOp(.put(key: "/c", value: Array("x".utf8), lease: nil))],
            failure: [RequestOp(.range(key: "/c", prefix: false)), RequestOp(.delete(key: "/d/", prefix: true))]
        )
        let expected = #"{"compare":["#
            + #"{"create_revision":"0","key":"L2M=","result":"EQUAL","target":"CREATE"},"#
            + #"{"key":"L2M=","mod_revision":"7","result":"LESS","target":"MOD"},"#
            + #"{"key":"L2M=","result":"GREATER","target":"VERSION","version":"2"},"#
            + #"{"key":"L2M=","result":"NOT_EQUAL","target":"VALUE","value":"eA=="}],"#
            + #""failure":[{"request_range":{"key":"L2M="}},{"request_delete_range":{"key":"L2Qv","range_end":"L2Qw"}}],"#
            + #""success":[{"request_put":{"key":"L2M=","value":"eA=="}}]}"#
        #expect(try json(request) == expected)
    }

    @Test func prefixCompareCarriesARangeEnd() throws {
        #expect(try json(CompareRequest(.prefixEmpty("/e/n1/")))
            == #"{"create_revision":"0","key":"L2UvbjEv","range_end":"L2UvbjEw","result":"EQUAL","target":"CREATE"}"#)
    }

    @Test func watchRequest() throws {
        #expect(try json(WatchCreateRequest(key: "/berth/", prefix: true, startRevision: 2))
            == #"{"create_request":{"key":"L2JlcnRoLw==","range_end":"L2JlcnRoMA==","start_revision":"2"}}"#)
        #expect(try json(WatchCreateRequest(key: "/k", prefix: false, startRevision: nil)) == #"{"create_request":{"key":"L2s="}}"#)
    }

    // MARK: Real answers (etcd 3.4.23 gateway)

    @Test func rangeResponse() throws {
        let body = #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"4","raft_term":"2"},"kvs":[{"key":"L2JlcnRoL2w=","create_revision":"4","mod_revision":"4","version":"1","value":"bHY=","lease":"4111120232405637129"}],"count":"1"}"#
        let result = try Wire.decode(RangeResponse.self, from: Array(body.utf8)).model
        #expect(result.revision == 4)
        #expect(result.count == 1)
        #expect(result.more == false)
        #expect(result.kvs == [KeyValue(key: "/berth/l", value: Array("lv".utf8), createRevision: 4, modRevision: 4, version: 1, lease: LeaseID(4111120232405637129))])
        #expect(result.first?.valueString == "lv")
    }

    @Test func emptyRangeResponse() throws {
        // No key: etcd leaves kvs and count out entirely.
        let body = #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"3","raft_term":"2"}}"#
        let result = try Wire.decode(RangeResponse.self, from: Array(body.utf8)).model
        #expect(result.kvs.isEmpty)
        #expect(result.first == nil)
        #expect(result.revision == 3)
        #expect(result.count == 0)
    }

    @Test func txnResponses() throws {
        let won = #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"5","raft_term":"2"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"5"}}}]}"#
        let lost = #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"5","raft_term":"2"},"responses":[{"response_range":{"header":{"revision":"5"},"kvs":[{"key":"L2JlcnRoL2M=","create_revision":"5","mod_revision":"5","version":"1","value":"eA=="}],"count":"1"}}]}"#
        let wonResult = try #require(try Wire.decode(TxnResponse.self, from: Array(won.utf8)).model)
        #expect(wonResult.succeeded)
        #expect(wonResult.responses == [.put(revision: 5)])
        let lostResult = try #require(try Wire.decode(TxnResponse.self, from: Array(lost.utf8)).model)
        #expect(!lostResult.succeeded)  // false is left out of the JSON
        guard case .range(let range) = lostResult.responses.first else {
            Issue.record("expected a range result")
            return
        }
        #expect(range.kvs.map(\.key) == ["/berth/c"])
        #expect(range.kvs.first?.value == Array("x".utf8))
    }

    @Test func deleteAndLeaseResponses() throws {
        let deleted = #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"6","raft_term":"2"},"deleted":"4"}"#
        #expect(try Wire.decode(DeleteRangeResponse.self, from: Array(deleted.utf8)).model == DeleteResult(deleted: 4, revision: 6, previous: []))

        let grant = #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"3","raft_term":"2"},"ID":"4111120232405637129","TTL":"5"}"#
        let granted = try Wire.decode(LeaseGrantResponse.self, from: Array(grant.utf8))
        #expect(granted.ID?.value == 4111120232405637129)
        #expect(granted.TTL?.value == 5)

        let alive = #"{"result":{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"4","raft_term":"2"},"ID":"4111120232405637129","TTL":"5"}}"#
        #expect(try Wire.decode(LeaseKeepAliveResponse.self, from: Array(alive.utf8)).result?.TTL?.value == 5)
        // An unknown lease is no error: just no TTL.
        let gone = #"{"result":{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"4","raft_term":"2"},"ID":"12345"}}"#
        let goneResponse = try Wire.decode(LeaseKeepAliveResponse.self, from: Array(gone.utf8))
        #expect(goneResponse.result != nil)
        #expect(goneResponse.result?.TTL == nil)
    }

    @Test func statusResponse() throws {
        let body = #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"6","raft_term":"2"},"version":"3.4.23","dbSize":"20480","leader":"13668033151171901709","raftIndex":"12","raftTerm":"2","raftAppliedIndex":"12","dbSizeInUse":"16384"}"#
        let endpoint = EtcdEndpoint(host: "127.0.0.1", port: 2379)
        let status = EtcdClient.status(try Wire.decode(StatusResponse.self, from: Array(body.utf8)), endpoint: endpoint)
        // member and leader IDs don't fit in Int64: they are unsigned.
        #expect(status == EtcdStatus(endpoint: endpoint, version: "3.4.23", memberID: 13668033151171901709, leader: 13668033151171901709, revision: 6, raftTerm: 2, dbSize: 20480, errors: []))
        #expect(status.isLeader)
    }

    @Test func errorBodies() throws {
        let endpoint = EtcdEndpoint(host: "127.0.0.1", port: 2379)
        let notFound = #"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#
        let error = EtcdClient.serverError(status: 404, body: Array(notFound.utf8), endpoint: endpoint, path: "/v3/lease/revoke")
        guard case .server(_, let path, 404, 5, let message) = error else {
            Issue.record("wrong error \(error)")
            return
        }
        #expect(path == "/v3/lease/revoke")
        #expect(message == "etcdserver: requested lease not found")
        #expect(!error.isRetryable)
        #expect(error.berthError.code == .notFound)

        let compacted = #"{"error":"etcdserver: mvcc: required revision has been compacted","message":"etcdserver: mvcc: required revision has been compacted","code":11}"#
        let compactedError = EtcdClient.serverError(status: 400, body: Array(compacted.utf8), endpoint: endpoint, path: "/v3/kv/range")
        guard case .compacted = compactedError else {
            Issue.record("wrong error \(compactedError)")
            return
        }

        // etcd's "no leader" and "leader changed" are gRPC Unavailable: worth another member.
        let noLeader = #"{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}"#
        #expect(EtcdClient.serverError(status: 503, body: Array(noLeader.utf8), endpoint: endpoint, path: "/v3/kv/put").isRetryable)
        // Not JSON at all (a proxy's page): the text is kept.
        let proxy = EtcdClient.serverError(status: 502, body: Array("Bad Gateway".utf8), endpoint: endpoint, path: "/v3/kv/put")
        #expect(proxy.isRetryable)
        #expect(proxy.description.contains("Bad Gateway"))
    }

    @Test func int64AsStringOrNumber() throws {
        #expect(try Wire.decode(WireInt64.self, from: Array(#""-1""#.utf8)).value == -1)
        #expect(try Wire.decode(WireInt64.self, from: Array("42".utf8)).value == 42)
        #expect(throws: (any Error).self) { try Wire.decode(WireInt64.self, from: Array(#""4x""#.utf8)) }
        #expect(try Wire.decode(WireUInt64.self, from: Array(#""15118495548433857066""#.utf8)).value == 15118495548433857066)
    }
}

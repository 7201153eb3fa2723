import Foundation
import Testing
@testable import Etcd

/// Against real etcd members started on loopback for each test (BERTH_LIVE_ETCD=1).
@Suite(.enabled(if: liveEtcdRequested, "set BERTH_LIVE_ETCD=1 (starts /usr/bin/etcd on loopback)"))
struct EtcdLiveTests {
    @Test func putGetPrefixDelete() async throws {
        try await EtcdTestCluster.with { cluster in
            let etcd = try cluster.client()
            let first = try await etcd.put("/berth/net/a", "1")
            let second = try await etcd.put("/berth/net/b", Array("2".utf8))
            try await etcd.put("/berth/net0", "outside")  // right after the prefix's range
            try await etcd.put("/berth/nes", "before")
            #expect(second > first)

            let a = try await etcd.get("/berth/net/a")
            #expect(a.first?.valueString == "1")
            #expect(a.first?.createRevision == first)
            #expect(a.first?.modRevision == first)
            #expect(a.first?.version == 1)
            #expect(a.first?.lease == nil)
            #expect(a.revision >= second)

            try await etcd.put("/berth/net/a", "1b")
            let a2 = try #require(try await etcd.get("/berth/net/a").first)
            #expect(a2.version == 2)
            #expect(a2.createRevision == first)
            #expect(a2.modRevision > second)

            let listed = try await etcd.getPrefix("/berth/net/")
            #expect(listed.kvs.map(\.key) == ["/berth/net/a", "/berth/net/b"])
            #expect(listed.count == 2)
            let limited = try await etcd.getPrefix("/berth/", limit: 1)
            #expect(limited.kvs.count == 1)
            #expect(limited.more)
            #expect(try await etcd.getPrefix("").count == 4)

            #expect(try await etcd.get("/berth/none").first == nil)
            #expect(try await etcd.delete("/berth/net/a").deleted == 1)
            #expect(try await etcd.delete("/berth/net/a").deleted == 0)
            #expect(try await etcd.deletePrefix("/berth/net/").deleted == 1)
            #expect(try await etcd.getPrefix("/berth/").kvs.map(\.key) == ["/berth/nes", "/berth/net0"])

            await #expect(throws: EtcdError.self) { try await etcd.put("", "x") }

            // Sequential requests share one kept-alive connection.
            for _ in 0..<20 { _ = try await etcd.get("/berth/nes") }
            #expect(await etcd.pools[0].opened == 1)

            let status = try await etcd.status()
            #expect(status.version.hasPrefix("3."))
            #expect(status.isLeader)
            await etcd.close()
        }
    }

    @Test func prefixCompareHoldsOnlyForAnEmptyPrefix() async throws {
        try await EtcdTestCluster.with { cluster in
            let etcd = try cluster.client()
            try await etcd.put("/e/n10/x", "other network")  // sorts after "/e/n1/" but is outside it
            let empty = try await etcd.txn(compare: [.prefixEmpty("/e/n1/")], success: [.put(key: "/ok", value: [], lease: nil)])
            #expect(empty.succeeded)
            try await etcd.put("/e/n1/10.0.0.2", "c1")
            let used = try await etcd.txn(compare: [.prefixEmpty("/e/n1/")], success: [.put(key: "/ok", value: [], lease: nil)])
            #expect(!used.succeeded)
            await etcd.close()
        }
    }

    @Test func concurrentCreateIfAbsentHasOneWinner() async throws {
        try await EtcdTestCluster.with { cluster in
            let etcd = try cluster.client()
            let contenders = 16
            let wins = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<contenders {
                    group.addTask { (index, try await etcd.createIfAbsent("/berth/lock", Array("owner-\(index)".utf8))) }
                }
                var wins: [Int] = []
                for try await (index, won) in group where won { wins.append(index) }
                return wins
            }
            #expect(wins.count == 1)
            let stored = try #require(try await etcd.get("/berth/lock").first)
            #expect(stored.valueString == "owner-\(wins.first ?? -1)")

            // Compare-and-swap: only the current mod revision wins, and only once.
            let swaps = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await etcd.compareAndSwap("/berth/lock", expectedModRevision: stored.modRevision, newValue: Array("swap-\(index)".utf8))
                    }
                }
                return try await group.reduce(into: 0) { count, won in if won { count += 1 } }
            }
            #expect(swaps == 1)
            #expect(try await etcd.compareAndSwap("/berth/lock", expectedModRevision: stored.modRevision, newValue: []) == false)

            // A general transaction: the failure branch runs and reports its read.
            let result = try await etcd.txn(
                compare: [.value("/berth/lock", .equal, Array("nobody".utf8)), .version("/berth/lock", .greater, 0)],
                success: [.delete(key: "/berth/lock", prefix: false)],
                failure: [.range(key: "/berth/", prefix: true), .put(key: "/berth/seen", value: Array("y".utf8), lease: nil)]
            )
            #expect(!result.succeeded)
            guard result.responses.count == 2, case .range(let range) = result.responses[0], case .put(let revision) = result.responses[1] else {
                Issue.record("unexpected responses \(result.responses)")
                return
            }
            #expect(range.kvs.map(\.key) == ["/berth/lock"])
            #expect(revision == result.revision)
            let deleted = try await etcd.txn(compare: [.version("/berth/seen", .equal, 1)], success: [.delete(key: "/berth/", prefix: true)])
            #expect(deleted.succeeded)
            #expect(deleted.responses == [.delete(DeleteResult(deleted: 2, revision: deleted.revision, previous: []))])
            await etcd.close()
        }
    }

    @Test func leasesExpireAndKeepersKeepThem() async throws {
        try await EtcdTestCluster.with { cluster in
            let etcd = try cluster.client()
            // Two leases of 2 s: one left alone, one kept alive; both carry a key.
            let lapsing = try await etcd.grantLease(ttl: .seconds(2))
            let kept = try await etcd.grantLease(ttl: .seconds(2))
            try await etcd.put("/berth/node/lapsing", "x", lease: lapsing)
            try await etcd.put("/berth/node/kept", "x", lease: kept)
            #expect(try await etcd.get("/berth/node/lapsing").first?.lease == lapsing)
            guard case .alive(let ttl) = try await etcd.keepAliveOnce(lapsing) else {
                Issue.record("fresh lease not alive")
                return
            }
            #expect(ttl == 2)
            let keeper = etcd.keepAlive(kept, ttl: .seconds(2))

            try await Task.sleep(for: .seconds(3.5))
            #expect(try await etcd.get("/berth/node/lapsing").first == nil)
            #expect(try await etcd.keepAliveOnce(lapsing) == .gone)
            #expect(try await etcd.get("/berth/node/kept").first != nil)

            keeper.cancel()
            #expect(await keeper.lost() == nil)  // cancelled, not lost

            // A keeper reports the loss when the lease is revoked under it.
            let revoked = try await etcd.grantLease(ttl: .seconds(3))
            let watcher = etcd.keepAlive(revoked, ttl: .seconds(3))
            try await etcd.revokeLease(revoked)
            guard case .leaseNotFound(revoked) = await watcher.lost() else {
                Issue.record("keeper did not report the revoked lease")
                return
            }
            await #expect(throws: EtcdError.self) { try await etcd.revokeLease(revoked) }
            await etcd.close()
        }
    }

    @Test func watchSeesPutsAndDeletes() async throws {
        try await EtcdTestCluster.with { cluster in
            let etcd = try cluster.client()
            let start = try await etcd.get("/berth/x").revision + 1
            let events = etcd.watch(prefix: "/berth/ep/", fromRevision: start)
            try await etcd.put("/berth/ep/a", "1")
            try await etcd.put("/berth/other", "ignored")
            try await etcd.put("/berth/ep/b", "2")
            let deleted = try await etcd.delete("/berth/ep/a")
            let seen = try await collect(events, count: 3)
            guard seen.count == 3, case .put(let a) = seen[0], case .put(let b) = seen[1], case .delete(let gone) = seen[2] else {
                Issue.record("unexpected events \(seen)")
                return
            }
            #expect(a.key == "/berth/ep/a" && a.valueString == "1" && a.modRevision == start)
            #expect(b.key == "/berth/ep/b" && b.valueString == "2")
            #expect(gone.key == "/berth/ep/a" && gone.modRevision == deleted.revision)
            await etcd.close()
        }
    }

    @Test func watchResumesAfterRestart() async throws {
        try await EtcdTestCluster.with { cluster in
            let etcd = try cluster.client()
            let member = cluster.members[0]
            let start = try await etcd.get("/x").revision + 1
            let events = etcd.watch(prefix: "/berth/", fromRevision: start)
            var iterator = events.makeAsyncIterator()
            try await etcd.put("/berth/1", "one")
            #expect(try await next(&iterator)?.revision == start)

            member.kill()
            try member.restart()
            try await cluster.waitUntilReady()
            try await etcd.put("/berth/2", "two")
            try await etcd.put("/berth/3", "three")
            // Exactly the later changes: nothing lost across the restart, nothing repeated.
            let after = [try await next(&iterator), try await next(&iterator)]
            #expect(after.map { $0?.revision } == [start + 1, start + 2])
            guard case .put(let kv) = after[0] else {
                Issue.record("expected a put, got \(String(describing: after[0]))")
                return
            }
            #expect(kv.key == "/berth/2")
            await etcd.close()
        }
    }

    @Test func watchFromCompactedRevisionSignalsIt() async throws {
        try await EtcdTestCluster.with { cluster in
            let etcd = try cluster.client()
            let old = try await etcd.put("/berth/c", "1")
            try await etcd.put("/berth/c", "2")
            let latest = try await etcd.put("/berth/c", "3")
            try await etcd.compact(revision: latest)

            await #expect(throws: EtcdError.self) { try await etcd.get("/berth/c", revision: old) }
            let events = try await collect(etcd.watch(prefix: "/berth/", fromRevision: old), count: 2)
            // The signal, then the stream ends (the second event never comes).
            #expect(events == [.compacted(revision: latest)])

            // From the compaction revision on, watching works again.
            let resumed = try await collect(etcd.watch(prefix: "/berth/", fromRevision: latest), count: 1)
            #expect(resumed.map(\.revision) == [latest])
            await etcd.close()
        }
    }

    @Test func clusterSurvivesLosingItsLeader() async throws {
        try await EtcdTestCluster.with(size: 3) { cluster in
            let probe = try cluster.client()
            var leader: EtcdMember?
            for member in cluster.members where try await probe.status(of: member.endpoint).isLeader { leader = member }
            let killed = try #require(leader)
            let others = cluster.members.filter { $0 !== killed }
            await probe.close()

            // The leader first, so the client's connections and the watch start there.
            let etcd = try EtcdClient(endpoints: [killed.endpoint] + others.map(\.endpoint), timeout: .seconds(3))
            let before = try await etcd.put("/berth/f/before", "1")
            let events = etcd.watch(prefix: "/berth/f/", fromRevision: before)
            var iterator = events.makeAsyncIterator()
            #expect(try await next(&iterator)?.revision == before)

            killed.kill()
            let clock = ContinuousClock()
            let started = clock.now
            let after = try await etcd.put("/berth/f/after", "2")
            #expect(try await etcd.get("/berth/f/after").first?.valueString == "2")
            #expect(try await etcd.createIfAbsent("/berth/f/new", []))
            #expect(clock.now - started < .seconds(10))
            #expect(try await next(&iterator)?.revision == after)

            let status = try await etcd.status()
            #expect(status.endpoint != killed.endpoint)
            #expect(status.leader != 0)
            await etcd.close()
        }
    }
}

extension EtcdLiveTests {
    @Test func tlsWithClientCertificates() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-etcd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        let certificates = try TestCertificates(in: root)
        let cluster = try EtcdTestCluster(size: 1, tls: certificates, root: root)
        defer { cluster.destroy() }
        let tls = EtcdTLS(caFile: certificates.ca, certFile: certificates.clientCert, keyFile: certificates.clientKey)
        try await cluster.waitUntilReady(tls: tls)

        let port = cluster.members[0].clientPort
        let etcd = try EtcdClient(url: "etcd://127.0.0.1:\(port)", tls: tls, timeout: .seconds(3))
        #expect(etcd.endpoints.first?.useTLS == true)
        try await etcd.put("/berth/tls", "secret")
        #expect(try await etcd.get("/berth/tls").first?.valueString == "secret")
        let watched = try await collect(etcd.watch(key: "/berth/tls", fromRevision: 1), count: 1)
        #expect(watched.count == 1)
        await etcd.close()

        // Without a client certificate the handshake fails: no endpoint answers.
        let anonymous = try EtcdClient(url: "etcd://127.0.0.1:\(port)", tls: EtcdTLS(caFile: certificates.ca), timeout: .seconds(2))
        await #expect(throws: EtcdError.self) { try await anonymous.get("/berth/tls") }
        // Plain HTTP to a TLS port fails too (it is not silently accepted).
        let plain = try EtcdClient(url: "http://127.0.0.1:\(port)", timeout: .seconds(2))
        await #expect(throws: EtcdError.self) { try await plain.get("/berth/tls") }
    }
}

/// The next event, or nil if none comes within `within`.
func next(_ iterator: inout AsyncThrowingStream<WatchEvent, any Error>.Iterator, within: Duration = .seconds(10)) async throws -> WatchEvent? {
    let clock = ContinuousClock()
    let deadline = clock.now + within
    // The iterator can't be shared with a timer task, so a watchdog cancels this task instead.
    let current = withUnsafeCurrentTask { $0 }
    let watchdog = Task {
        try await Task.sleep(until: deadline, clock: clock)
        current?.cancel()
    }
    defer { watchdog.cancel() }
    return try await iterator.next()
}

/// Up to `count` events, stopping early when the stream ends or nothing comes for a while.
func collect(_ stream: AsyncThrowingStream<WatchEvent, any Error>, count: Int, within: Duration = .seconds(10)) async throws -> [WatchEvent] {
    var iterator = stream.makeAsyncIterator()
    var events: [WatchEvent] = []
    while events.count < count, let event = try await next(&iterator, within: within) {
        events.append(event)
    }
    return events
}

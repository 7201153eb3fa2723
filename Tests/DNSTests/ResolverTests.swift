import BerthCore
@testable import DNS
import Testing

/// Local answers and the decision to forward, straight through `Resolver` (no sockets).
@Suite struct ResolverTests {
    var resolver = Resolver(ttl: 60)
    let snapshot = Snapshot(records: sampleRecords(), upstreams: [daemonUpstream])

    mutating func ask(_ name: String, type: UInt16 = 1, from source: IPAddress, in snapshot: Snapshot? = nil) throws -> DecodedResponse? {
        guard case .reply(let bytes) = resolver.answer(makeQuery(name: name, type: type), from: source, snapshot: snapshot ?? self.snapshot)
        else { return nil }
        let response = try decodeResponse(bytes)
        #expect(response.id == 0x1234)
        #expect(response.isResponse)
        return response
    }

    @Test mutating func resolvesNamesAliasesAndShortIDsCaseInsensitively() throws {
        #expect(try ask("web", from: dbA)?.addresses == ["10.1.0.2"])
        #expect(try ask("WEB.", from: dbA)?.addresses == ["10.1.0.2"])
        #expect(try ask("frontend", from: dbA)?.addresses == ["10.1.0.2"])
        #expect(try ask("0123456789AB", from: dbA)?.addresses == ["10.1.0.2"])
        #expect(try ask("web", type: 28, from: dbA)?.addresses == ["fd00:1::2"])
        let any = try #require(try ask("web", type: 255, from: dbA))
        #expect(Set(any.addresses) == ["10.1.0.2", "fd00:1::2"])
        #expect(any.authoritative)
        #expect(any.answers.allSatisfy { $0.ttl == 60 && $0.name == "web." })
    }

    @Test mutating func knownNameWithoutThatTypeIsNoDataNotForwarded() throws {
        let aaaa = try #require(try ask("db", type: 28, from: webA))
        #expect(aaaa.rcode == 0)
        #expect(aaaa.answers.isEmpty)
        let mx = try #require(try ask("db", type: 15, from: webA))
        #expect(mx.rcode == 0)
        #expect(mx.answers.isEmpty)
    }

    @Test mutating func scopesNamesToTheRequestersNetworks() throws {
        // web is on A only: db's B-only alias "store" and spy (B) are not visible, so they are
        // forwarded like any outside name.
        #expect(resolver.answer(makeQuery(name: "spy"), from: webA, snapshot: snapshot)
            == .forward(upstreams: ["192.0.2.53:5300"]))
        #expect(resolver.answer(makeQuery(name: "store"), from: webA, snapshot: snapshot)
            == .forward(upstreams: ["192.0.2.53:5300"]))
        // spy (B) sees db's address on B, not on A, and not web at all.
        #expect(try ask("db", from: onlyB)?.addresses == ["10.2.0.3"])
        #expect(try ask("store", from: onlyB)?.addresses == ["10.2.0.3"])
        #expect(resolver.answer(makeQuery(name: "web"), from: onlyB, snapshot: snapshot)
            == .forward(upstreams: ["192.0.2.53:5300"]))
    }

    @Test mutating func nameOnSeveralSharedNetworksIsTheUnion() throws {
        // db asks from either of its addresses: it is on A and B, as db is.
        let answer = try #require(try ask("db", from: dbB))
        #expect(Set(answer.addresses) == ["10.1.0.3", "10.2.0.3"])
        #expect(answer.addresses.count == 2)
    }

    @Test mutating func sharedAliasRotatesRoundRobin() throws {
        var records = sampleRecords()
        let replicas = (1...3).map { IPAddress.v4(IPv4Address(10, 1, 0, UInt8(10 + $0))) }
        for (index, address) in replicas.enumerated() {
            records.addContainer(id: "77777777777\(index)", name: "api-\(index)", endpoints: [
                DNSEndpoint(network: netA, addresses: [address], aliases: ["api"]),
            ])
        }
        let snapshot = Snapshot(records: records, upstreams: [])
        var firsts: [String] = []
        for _ in 0..<6 {
            guard case .reply(let bytes) = resolver.answer(makeQuery(name: "api"), from: webA, snapshot: snapshot)
            else { Issue.record("no reply"); return }
            let addresses = try decodeResponse(bytes).addresses
            #expect(Set(addresses) == ["10.1.0.11", "10.1.0.12", "10.1.0.13"])
            firsts.append(addresses[0])
        }
        #expect(Set(firsts) == ["10.1.0.11", "10.1.0.12", "10.1.0.13"])
        #expect(firsts[0] != firsts[1])
    }

    @Test mutating func pointerRecordsForContainerAddresses() throws {
        let v4 = try #require(try ask(ReverseName.name(for: dbA), type: 12, from: webA))
        #expect(v4.answers.map(\.target) == ["db."])
        #expect(v4.authoritative)
        let web = try #require(try ask(ReverseName.name(for: webA), type: 12, from: dbA))
        #expect(web.answers.map(\.target) == ["web.", "frontend."])
        let v6 = try #require(try ask(ReverseName.name(for: web6), type: 12, from: dbA))
        #expect(v6.answers.map(\.target) == ["web.", "frontend."])
        // db's address on B is not on web's networks: not answered locally.
        #expect(resolver.answer(makeQuery(name: ReverseName.name(for: dbB), type: 12), from: webA, snapshot: snapshot)
            == .forward(upstreams: ["192.0.2.53:5300"]))
    }

    @Test mutating func unknownRequestersAreRefused() throws {
        let answer = try #require(try ask("web", from: IPAddress("192.168.7.7")!))
        #expect(answer.rcode == 5)
        #expect(answer.answers.isEmpty)
    }

    @Test mutating func internalOnlyRequestersResolveLocallyButNeverForward() throws {
        #expect(try ask("iso", from: isolated)?.addresses == ["10.3.0.2"])
        let outside = try #require(try ask("example.org", from: isolated))
        #expect(outside.rcode == 5)
        #expect(outside.flags & 0x0080 == 0)  // no recursion available
    }

    @Test mutating func undeclaredScopesAddNamesButNeverForwarding() throws {
        // As the daemon does for `--link` aliases: a private scope next to an internal network.
        var records = sampleRecords()
        records.add(names: ["linked"], addresses: [dbA], network: "links/iso", reverse: false)
        records.setRequester(isolated, networks: [netInternal, "links/iso"])
        let snapshot = Snapshot(records: records, upstreams: [daemonUpstream])
        #expect(try ask("linked", from: isolated, in: snapshot)?.addresses == ["10.1.0.3"])
        #expect(try ask("example.org", from: isolated, in: snapshot)?.rcode == 5)
        // Only undeclared networks: nothing to forward for either.
        var bare = DNSRecords()
        bare.addContainer(id: "abababababababab", name: "bare", endpoints: [DNSEndpoint(network: "never-declared", addresses: [webA])])
        let bareSnapshot = Snapshot(records: bare, upstreams: [daemonUpstream])
        #expect(try ask("bare", from: webA, in: bareSnapshot)?.addresses == ["10.1.0.2"])
        #expect(try ask("example.org", from: webA, in: bareSnapshot)?.rcode == 5)
    }

    @Test mutating func containerUpstreamsOverrideTheDaemons() throws {
        var records = sampleRecords()
        records.addContainer(id: "8888888888888888", name: "custom",
                             upstreams: [DNSUpstream(IPAddress("198.51.100.1")!)],
                             endpoints: [DNSEndpoint(network: netA, addresses: [IPAddress("10.1.0.88")!])])
        let snapshot = Snapshot(records: records, upstreams: [daemonUpstream])
        #expect(resolver.answer(makeQuery(name: "example.org"), from: IPAddress("10.1.0.88")!, snapshot: snapshot)
            == .forward(upstreams: ["198.51.100.1:53"]))
        #expect(try ask("custom", from: webA, in: snapshot)?.addresses == ["10.1.0.88"])
    }

    @Test mutating func noUpstreamsIsServfail() throws {
        let snapshot = Snapshot(records: sampleRecords(), upstreams: [])
        guard case .reply(let bytes) = resolver.answer(makeQuery(name: "example.org"), from: webA, snapshot: snapshot)
        else { Issue.record("no reply"); return }
        #expect(try decodeResponse(bytes).rcode == 2)
    }

    @Test func recordsLookupHelper() {
        let records = sampleRecords()
        #expect(records.addresses(of: "Web.", from: dbA) == [webA, web6])
        #expect(records.addresses(of: "web", from: onlyB) == nil)
        #expect(records.addresses(of: "web", from: IPAddress("1.2.3.4")!) == nil)
    }

    @Test mutating func laterUpdateReplacesEverything() throws {
        var records = DNSRecords()
        records.addContainer(id: "9999999999999999", name: "web", endpoints: [
            DNSEndpoint(network: netA, addresses: [IPAddress("10.1.0.99")!]),
        ])
        let snapshot = Snapshot(records: records, upstreams: [])
        guard case .reply(let bytes) = resolver.answer(makeQuery(name: "web"), from: IPAddress("10.1.0.99")!, snapshot: snapshot)
        else { Issue.record("no reply"); return }
        #expect(try decodeResponse(bytes).addresses == ["10.1.0.99"])
        #expect(resolver.answer(makeQuery(name: "web"), from: webA, snapshot: snapshot) != .drop)
    }
}

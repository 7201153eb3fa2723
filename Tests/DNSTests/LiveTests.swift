import BerthCore
import DNS
import Foundation
import Glibc
import Testing

/// The server on 127.0.0.1 (a free high port), queried over real sockets; upstreams are
/// fakes on loopback. Serialized: the tests block on sockets and time answers.
@Suite(.serialized) struct LiveTests {
    static let loopback = IPAddress("127.0.0.1")!

    /// Records where 127.0.0.1 is a container on net A (or only on an internal network).
    func records(internalOnly: Bool = false, upstreams: [DNSUpstream]? = nil) -> DNSRecords {
        var records = sampleRecords()
        records.addContainer(id: "cccccccccccccccc", name: "client", upstreams: upstreams, endpoints: [
            DNSEndpoint(network: internalOnly ? netInternal : netA, addresses: [Self.loopback]),
        ])
        return records
    }

    func start(_ records: DNSRecords, upstreams: [DNSUpstream] = [], timeout: Duration = .seconds(2)) async throws -> (DNSServer, Int) {
        let server = DNSServer(upstreams: upstreams, configuration: .init(upstreamTimeout: timeout))
        server.update(records)
        let port = try await server.listen(on: Self.loopback, port: 0)
        return (server, port)
    }

    @Test func answersOverUDPAndTCP() async throws {
        let (server, port) = try await start(records())
        let udp = try decodeResponse(try #require(udpExchange(makeQuery(id: 77, name: "Web"), port: port)))
        #expect(udp.id == 77)
        #expect(udp.addresses == ["10.1.0.2"])
        #expect(udp.questionName == "Web.")

        // Two pipelined queries on one connection.
        let answers = try #require(tcpExchange([makeQuery(id: 1, name: "web"), makeQuery(id: 2, name: "db", type: 1)], port: port))
        let decoded = try answers.map(decodeResponse)
        #expect(decoded.map(\.id) == [1, 2])
        #expect(decoded.map(\.addresses) == [["10.1.0.2"], ["10.1.0.3"]])

        #expect(try await server.listen(on: Self.loopback, port: 0) == port)  // already listening
        #expect(server.listeningAddresses == [Self.loopback: port])
        await server.stopListening(on: Self.loopback)
        #expect(udpExchange(makeQuery(name: "web"), port: port, timeoutMilliseconds: 300) == nil)
        #expect(server.listeningAddresses.isEmpty)
        await server.shutdown()
        await #expect(throws: BerthError.self) { try await server.listen(on: Self.loopback, port: 0) }
    }

    /// Many queries at once from one socket: they arrive in batches, and replies of one
    /// length go back as one GSO message; every one must still come back, whole and once.
    @Test func answersABurstOfQueries() async throws {
        let (server, port) = try await start(records())
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        setTimeout(fd, milliseconds: 3000)
        var receiveBuffer: Int32 = 1 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, socklen_t(MemoryLayout<Int32>.size))
        // "web" and "db" answers differ in length (question name), so groups break between them;
        // an unknown-type query (NOERROR, no answers) is a third length.
        let names = ["web", "db", "web", "web", "db", "frontend"]
        let count = 200
        for id in 0..<count {
            let query = makeQuery(id: UInt16(id), name: names[id % names.count], type: id % 7 == 0 ? 16 : 1)
            let sent = query.withUnsafeBytes { bytes in
                withSockaddr(makeAddress("127.0.0.1", port)) { sendto(fd, bytes.baseAddress, bytes.count, 0, $0, $1) }
            }
            #expect(sent == query.count)
        }
        var seen = Set<UInt16>()
        var buffer = [UInt8](repeating: 0, count: 2048)
        for _ in 0..<count {
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard received > 0 else { break }
            let answer = try decodeResponse(Array(buffer[0..<received]))
            let id = Int(answer.id)
            #expect(seen.insert(answer.id).inserted)
            let expected = id % 7 == 0 ? [] : (names[id % names.count] == "db" ? ["10.1.0.3"] : ["10.1.0.2"])
            #expect(answer.addresses == expected, "query \(id)")
        }
        #expect(seen.count == count)
        await server.shutdown()
    }

    @Test func tcpConnectionsAreCapped() async throws {
        let server = DNSServer(upstreams: [], configuration: .init(maxTCPConnections: 1))
        server.update(records())
        let port = try await server.listen(on: Self.loopback, port: 0)
        let first = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(first) }
        #expect(withSockaddr(makeAddress("127.0.0.1", port)) { connect(first, $0, $1) } == 0)
        try await Task.sleep(for: .milliseconds(100))  // let the server accept it
        // The second connection is accepted by the kernel, then closed by the server.
        let second = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(second) }
        setTimeout(second, milliseconds: 2000)
        #expect(withSockaddr(makeAddress("127.0.0.1", port)) { connect(second, $0, $1) } == 0)
        var byte: UInt8 = 0
        #expect(recv(second, &byte, 1, 0) <= 0)
        // The first one still works.
        let query = be16(UInt16(makeQuery(name: "web").count)) + makeQuery(name: "web")
        #expect(query.withUnsafeBytes { send(first, $0.baseAddress, $0.count, 0) } == query.count)
        var answer = [UInt8](repeating: 0, count: 512)
        setTimeout(first, milliseconds: 2000)
        #expect(answer.withUnsafeMutableBytes { recv(first, $0.baseAddress, $0.count, 0) } > 12)
        await server.shutdown()
    }

    @Test func updatesTakeEffectAtOnce() async throws {
        let (server, port) = try await start(records())
        var changed = records()
        changed.addContainer(id: "dddddddddddddddd", name: "newcomer", endpoints: [
            DNSEndpoint(network: netA, addresses: [IPAddress("10.1.0.50")!]),
        ])
        server.update(changed)
        let answer = try decodeResponse(try #require(udpExchange(makeQuery(name: "newcomer"), port: port)))
        #expect(answer.addresses == ["10.1.0.50"])
        await server.shutdown()
    }

    @Test func strangersAreRefused() async throws {
        let (server, port) = try await start(records())
        // 127.0.0.2 is local too, but no container has it.
        let answer = try decodeResponse(try #require(udpExchange(makeQuery(name: "web"), port: port, source: "127.0.0.2")))
        #expect(answer.rcode == 5)
        await server.shutdown()
    }

    @Test func garbageIsDroppedAndMalformedGetsFormErr() async throws {
        let (server, port) = try await start(records())
        #expect(udpExchange([1, 2, 3, 4, 5], port: port, timeoutMilliseconds: 300) == nil)
        let formerr = try #require(udpExchange([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1], port: port))
        #expect(formerr == [0xab, 0xcd, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0])
        // The server is still fine.
        #expect(try decodeResponse(try #require(udpExchange(makeQuery(name: "web"), port: port))).addresses == ["10.1.0.2"])
        await server.shutdown()
    }

    @Test func forwardsOverUDPAndTCPWithTheClientsID() async throws {
        let upstream = FakeUpstream(.answer(IPv4Address(10, 9, 9, 9)))
        defer { upstream.stop() }
        let (server, port) = try await start(records(), upstreams: [upstream.upstream])

        let udp = try decodeResponse(try #require(udpExchange(makeQuery(id: 0x4242, name: "example.org"), port: port)))
        #expect(udp.id == 0x4242)
        #expect(udp.rcode == 0)
        #expect(udp.addresses == ["10.9.9.9"])
        #expect(upstream.udpQueries == 1)

        let tcp = try #require(tcpExchange([makeQuery(id: 0x0101, name: "example.org")], port: port))
        let answer = try decodeResponse(tcp[0])
        #expect(answer.id == 0x0101)
        #expect(answer.addresses == ["10.9.9.9"])
        #expect(upstream.tcpQueries == 1)
        await server.shutdown()
    }

    @Test func truncatedUpstreamAnswerIsFetchedAgainOverTCP() async throws {
        let upstream = FakeUpstream(.truncatingUDP(IPv4Address(10, 6, 6, 6)))
        defer { upstream.stop() }
        let (server, port) = try await start(records(), upstreams: [upstream.upstream])
        let answer = try decodeResponse(try #require(udpExchange(makeQuery(id: 9, name: "big.example.org"), port: port)))
        #expect(answer.id == 9)
        #expect(!answer.truncated)
        #expect(answer.addresses == ["10.6.6.6"])
        #expect(upstream.udpQueries == 1 && upstream.tcpQueries == 1)
        await server.shutdown()
    }

    @Test func oversizedUpstreamAnswerIsTruncatedForUDPClients() async throws {
        let upstream = FakeUpstream(.oversized(60))
        defer { upstream.stop() }
        let (server, port) = try await start(records(), upstreams: [upstream.upstream])
        let udp = try #require(udpExchange(makeQuery(id: 3, name: "big.example.org"), port: port))
        #expect(udp.count <= 512)
        let truncated = try decodeResponse(udp)
        #expect(truncated.id == 3)
        #expect(truncated.truncated)
        #expect(truncated.questionName == "big.example.org.")
        // With EDNS room for it, the whole answer is relayed.
        let edns = try decodeResponse(try #require(udpExchange(makeQuery(name: "big.example.org", ednsSize: 4096), port: port)))
        #expect(edns.answers.count == 60)
        let tcp = try #require(tcpExchange([makeQuery(id: 4, name: "big.example.org")], port: port))
        #expect(try decodeResponse(tcp[0]).answers.count == 60)
        await server.shutdown()
    }

    @Test func silentUpstreamTimesOutToServfail() async throws {
        let silent = FakeUpstream(.silent)
        defer { silent.stop() }
        let (server, port) = try await start(records(), upstreams: [silent.upstream], timeout: .milliseconds(200))
        let started = ContinuousClock.now
        let answer = try decodeResponse(try #require(udpExchange(makeQuery(id: 5, name: "example.org"), port: port)))
        #expect(answer.id == 5)
        #expect(answer.rcode == 2)
        #expect(answer.questionName == "example.org.")
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(silent.udpQueries == 1)
        await server.shutdown()
    }

    @Test func failsOverToTheNextUpstream() async throws {
        let silent = FakeUpstream(.silent)
        let broken = FakeUpstream(.servfail)
        let good = FakeUpstream(.answer(IPv4Address(10, 8, 8, 8)))
        defer { silent.stop(); broken.stop(); good.stop() }
        let (server, port) = try await start(
            records(), upstreams: [silent.upstream, broken.upstream, good.upstream], timeout: .milliseconds(200))
        let answer = try decodeResponse(try #require(udpExchange(makeQuery(name: "example.org"), port: port)))
        #expect(answer.addresses == ["10.8.8.8"])
        #expect(silent.udpQueries == 1 && broken.udpQueries == 1 && good.udpQueries == 1)

        // Only SERVFAIL upstreams left: their answer is relayed as it is.
        server.setUpstreams([broken.upstream])
        let relayed = try decodeResponse(try #require(udpExchange(makeQuery(name: "example.org"), port: port)))
        #expect(relayed.rcode == 2)
        await server.shutdown()
    }

    @Test func internalNetworksNeverForward() async throws {
        let upstream = FakeUpstream(.answer(IPv4Address(10, 9, 9, 9)))
        defer { upstream.stop() }
        let (server, port) = try await start(records(internalOnly: true), upstreams: [upstream.upstream])
        let outside = try decodeResponse(try #require(udpExchange(makeQuery(name: "example.org"), port: port)))
        #expect(outside.rcode == 5)
        let local = try decodeResponse(try #require(udpExchange(makeQuery(name: "iso"), port: port)))
        #expect(local.addresses == ["10.3.0.2"])
        #expect(upstream.udpQueries == 0)
        await server.shutdown()
    }

    @Test func containerDNSOverridesTheDaemonsUpstreams() async throws {
        let daemons = FakeUpstream(.answer(IPv4Address(10, 9, 9, 9)))
        let own = FakeUpstream(.answer(IPv4Address(10, 7, 7, 7)))
        defer { daemons.stop(); own.stop() }
        let (server, port) = try await start(records(upstreams: [own.upstream]), upstreams: [daemons.upstream])
        let answer = try decodeResponse(try #require(udpExchange(makeQuery(name: "example.org"), port: port)))
        #expect(answer.addresses == ["10.7.7.7"])
        #expect(daemons.udpQueries == 0)
        await server.shutdown()
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/dnsmasq")))
    func forwardsToDnsmasq() async throws {
        let dnsmasqPort = freePort()
        let dnsmasq = Process()
        dnsmasq.executableURL = URL(fileURLWithPath: "/usr/sbin/dnsmasq")
        // No resolv.conf, no hosts file, loopback only: it knows example.test and nothing else.
        dnsmasq.arguments = [
            "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
            "--listen-address=127.0.0.1", "--bind-interfaces", "--port=\(dnsmasqPort)",
            "--address=/example.test/10.9.9.9",
        ]
        dnsmasq.standardError = FileHandle.nullDevice
        try dnsmasq.run()
        defer {
            // SIGKILL: the child inherits the test thread's signal mask, where SIGTERM is blocked.
            kill(dnsmasq.processIdentifier, SIGKILL)
            dnsmasq.waitUntilExit()
        }
        // Wait until it answers.
        for _ in 0..<50 where udpExchange(makeQuery(name: "example.test"), port: dnsmasqPort, timeoutMilliseconds: 100) == nil {}

        let (server, port) = try await start(records(), upstreams: [DNSUpstream(Self.loopback, port: dnsmasqPort)])
        let udp = try decodeResponse(try #require(udpExchange(makeQuery(id: 31, name: "www.example.test"), port: port)))
        #expect(udp.id == 31)
        #expect(udp.addresses == ["10.9.9.9"])
        let tcp = try #require(tcpExchange([makeQuery(id: 32, name: "example.test")], port: port))
        #expect(try decodeResponse(tcp[0]).addresses == ["10.9.9.9"])
        await server.shutdown()
    }
}

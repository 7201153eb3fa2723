import BerthCore
@testable import DNS
import Testing

@Suite struct NameCodecTests {
    func read(_ bytes: [UInt8], at offset: Int) -> (name: String, end: Int, compressed: Bool)? {
        var name: [UInt8] = []
        guard let end = bytes.withUnsafeBytes({ NameCodec.read($0, at: offset, into: &name) }) else { return nil }
        return (NameCodec.text(name), end.offset, end.compressed)
    }

    @Test func readsPlainNameLowerCased() throws {
        let bytes: [UInt8] = [3, 0x57, 0x65, 0x62, 4, 0x54, 0x65, 0x53, 0x74, 0, 0xff]
        let result = try #require(read(bytes, at: 0))
        #expect(result.name == "web.test.")
        #expect(result.end == 10)
        #expect(!result.compressed)
    }

    @Test func followsBackwardPointers() throws {
        // 0: "example.com", 13: "www" + pointer to 0, 19: "a" + pointer to 13 (pointer to a pointer chain)
        let bytes: [UInt8] = Array(wireName("example.com")) + [3] + Array("www".utf8) + [0xc0, 0] + [1, 0x61, 0xc0, 13]
        let www = try #require(read(bytes, at: 13))
        #expect(www.name == "www.example.com.")
        #expect(www.end == 19)
        #expect(www.compressed)
        let a = try #require(read(bytes, at: 19))
        #expect(a.name == "a.www.example.com.")
        #expect(a.end == 23)
    }

    @Test func rejectsPointerLoopsAndForwardPointers() {
        #expect(read([0xc0, 0x00], at: 0) == nil)  // points at itself
        #expect(read([1, 0x61, 0xc0, 0x00], at: 0) == nil)  // label, then back to its own start
        #expect(read([0xc0, 0x02, 0x00], at: 0) == nil)  // forward pointer
        // Two pointers bouncing: 4 -> 0 ("a" then pointer to 4) is a loop through a later segment.
        #expect(read([1, 0x61, 0xc0, 0x04, 0xc0, 0x00], at: 4) == nil)
        #expect(read([0xc0], at: 0) == nil)  // pointer cut short
    }

    @Test func enforcesLabelAndNameLengths() {
        let label63 = [UInt8](repeating: 0x61, count: 63)
        #expect(read([63] + label63 + [0], at: 0) != nil)
        // Length 64 has the 0x40 bit set: an (unsupported) extended label type, rejected.
        #expect(read([64] + label63 + [0x61, 0], at: 0) == nil)
        #expect(read([0x80, 0], at: 0) == nil)
        // Exactly 255 bytes on the wire is fine, 257 is not.
        let max = [63] + label63 + [63] + label63 + [63] + label63 + [61] + [UInt8](repeating: 0x62, count: 61) + [0]
        #expect(max.count == 255)
        #expect(read(max, at: 0) != nil)
        let over = [63] + label63 + [63] + label63 + [63] + label63 + [63] + label63 + [0]
        #expect(read(over, at: 0) == nil)
        #expect(read([3, 0x61, 0x62], at: 0) == nil)  // label runs off the end
        #expect(read([3, 0x61, 0x62, 0x63], at: 0) == nil)  // no terminating zero
    }

    @Test func keysFromText() {
        #expect(NameCodec.key("Web.") == [3, 0x77, 0x65, 0x62, 0])
        #expect(NameCodec.key("a.b") == [1, 0x61, 1, 0x62, 0])
        #expect(NameCodec.key("") == nil)
        #expect(NameCodec.key("a..b") == nil)
        #expect(NameCodec.key(String(repeating: "x", count: 64)) == nil)
        #expect(NameCodec.wire("Web") == [3, 0x57, 0x65, 0x62, 0])
    }

    @Test func reverseNames() {
        #expect(ReverseName.address(fromKey: NameCodec.key("2.0.1.10.in-addr.arpa")!) == IPAddress("10.1.0.2"))
        #expect(ReverseName.address(fromKey: NameCodec.key("1.10.in-addr.arpa")!) == nil)
        #expect(ReverseName.address(fromKey: NameCodec.key("256.0.1.10.in-addr.arpa")!) == nil)
        #expect(ReverseName.address(fromKey: NameCodec.key("02.0.1.10.in-addr.arpa")!) == nil)
        let v6 = IPAddress("fd00:1::2")!
        let name = ReverseName.name(for: v6)
        #expect(name == "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa.")
        #expect(ReverseName.address(fromKey: NameCodec.key(name)!) == v6)
        #expect(ReverseName.address(fromKey: NameCodec.key(name.uppercased())!) == v6)
        #expect(ReverseName.address(fromKey: NameCodec.key("g" + name.dropFirst())!) == nil)
    }
}

@Suite struct QueryParserTests {
    func parse(_ bytes: [UInt8]) -> (ParsedPacket, String) {
        var name: [UInt8] = []
        let parsed = bytes.withUnsafeBytes { QueryParser.parse($0, name: &name) }
        return (parsed, NameCodec.text(name))
    }

    @Test func parsesFixtureWithEDNS() {
        // id 0xbeef, RD, one question "Web" A IN, one OPT (4096 bytes, DO set).
        let fixture: [UInt8] = [
            0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x03, 0x57, 0x65, 0x62, 0x00, 0x00, 0x01, 0x00, 0x01,
            0x00, 0x00, 0x29, 0x10, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
        ]
        let (parsed, name) = parse(fixture)
        #expect(parsed == .query(Query(
            id: 0xbeef, flags: 0x0100, type: 1, recordClass: 1, questionEnd: 21, nameIsCompressed: false,
            ednsPayloadSize: 4096, ednsVersion: 0)))
        #expect(name == "web.")
        #expect(makeQuery(id: 0xbeef, name: "Web", ednsSize: 4096) == fixture)
    }

    @Test func skipsAnswerAndAuthorityRecords() {
        // A query carrying an answer record (compressed owner) and an authority record.
        var bytes = be16(7) + be16(0x0100) + be16(1) + be16(1) + be16(1) + be16(0)
        bytes += wireName("web") + be16(1) + be16(1)
        bytes += [0xc0, 12] + be16(1) + be16(1) + [0, 0, 0, 1] + be16(4) + [1, 2, 3, 4]
        bytes += wireName("x.y") + be16(16) + be16(1) + [0, 0, 0, 1] + be16(3) + [2, 0x68, 0x69]
        guard case .query(let query) = parse(bytes).0 else {
            Issue.record("expected a query")
            return
        }
        #expect(query.type == 1)
        #expect(query.ednsPayloadSize == nil)
    }

    @Test func rejections() {
        let good = makeQuery(name: "web")
        #expect(parse(Array(good[0..<11])).0 == .drop)  // no full header
        #expect(parse([]).0 == .drop)
        var response = good
        response[2] |= 0x80
        #expect(parse(response).0 == .drop)  // answering responses invites loops
        #expect(parse(Array(good[0..<14])).0 == .reject(id: 0x1234, flags: 0x0100, code: .formatError))
        #expect(parse(Array(good.dropLast(1))).0 == .reject(id: 0x1234, flags: 0x0100, code: .formatError))
        var twoQuestions = good
        twoQuestions[5] = 2
        #expect(parse(twoQuestions).0 == .reject(id: 0x1234, flags: 0x0100, code: .formatError))
        var noQuestion = Array(good[0..<12])
        noQuestion[5] = 0
        #expect(parse(noQuestion).0 == .reject(id: 0x1234, flags: 0x0100, code: .formatError))
        var status = good
        status[2] = 0x10  // opcode 2 (STATUS)
        #expect(parse(status).0 == .reject(id: 0x1234, flags: 0x1000, code: .notImplemented))
        var claimsAnswer = good
        claimsAnswer[7] = 1  // ANCOUNT 1 but no record follows
        #expect(parse(claimsAnswer).0 == .reject(id: 0x1234, flags: 0x0100, code: .formatError))
        var twoOPT = makeQuery(name: "web", ednsSize: 1232)
        twoOPT += twoOPT.suffix(11)
        twoOPT[11] = 2
        #expect(parse(twoOPT).0 == .reject(id: 0x1234, flags: 0x0100, code: .formatError))
        var loop = Array(good[0..<12]) + [0xc0, 12] + be16(1) + be16(1)
        loop[5] = 1
        #expect(parse(loop).0 == .reject(id: 0x1234, flags: 0x0100, code: .formatError))
    }

    @Test func trailingBytesAreIgnored() {
        guard case .query = parse(makeQuery(name: "web") + [1, 2, 3]).0 else {
            Issue.record("expected a query")
            return
        }
    }
}

@Suite struct ResponseEncodingTests {
    var resolver = Resolver(ttl: 60)
    let snapshot = Snapshot(records: sampleRecords(), upstreams: [daemonUpstream])

    @Test mutating func answerMatchesFixtureByteForByte() {
        let query: [UInt8] = [
            0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x02, 0x44, 0x62, 0x00, 0x00, 0x01, 0x00, 0x01,  // "Db" A IN, from web on net A
        ]
        let expected: [UInt8] = [
            0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // QR AA RD RA
            0x02, 0x44, 0x62, 0x00, 0x00, 0x01, 0x00, 0x01,  // question echoed, case kept
            0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 10, 1, 0, 3,
        ]
        #expect(resolver.answer(query, from: webA, snapshot: snapshot) == .reply(expected))
    }

    @Test mutating func formErrAndNotImpFixtures() {
        let cut: [UInt8] = [0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x61]
        #expect(resolver.answer(cut, from: webA, snapshot: snapshot)
            == .reply([0xab, 0xcd, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]))
        var notify = makeQuery(id: 9, name: "web")
        notify[2] = 0x20  // opcode 4 (NOTIFY)
        #expect(resolver.answer(notify, from: webA, snapshot: snapshot)
            == .reply([0, 9, 0xa0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]))
        // Over TCP the same answer carries its length.
        #expect(resolver.answer(cut, from: webA, snapshot: snapshot, overTCP: true)
            == .reply([0, 12, 0xab, 0xcd, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(resolver.answer([1, 2, 3], from: webA, snapshot: snapshot) == .drop)
    }

    @Test mutating func ednsAnswerCarriesOPTAndBadVersionIsRefusedWithBADVERS() throws {
        guard case .reply(let bytes) = resolver.answer(makeQuery(name: "web", ednsSize: 4096), from: webA, snapshot: snapshot)
        else { Issue.record("no reply"); return }
        let response = try decodeResponse(bytes)
        #expect(response.addresses == ["10.1.0.2"])
        #expect(response.additional == [DecodedRecord(name: ".", type: 41, ttl: 0, data: [], target: nil)])
        guard case .reply(let bad) = resolver.answer(makeQuery(name: "web", ednsSize: 4096, ednsVersion: 1), from: webA, snapshot: snapshot)
        else { Issue.record("no reply"); return }
        let badvers = try decodeResponse(bad)
        #expect(badvers.rcode == 0)
        #expect(badvers.answers.isEmpty)
        #expect(badvers.additional.first?.ttl == 1 << 24)  // extended RCODE 1 → BADVERS (16)
    }

    @Test mutating func compressedQuestionIsEchoedExpanded() throws {
        // The only thing before a question is the header; ARCOUNT's high byte (offset 10) is 0,
        // which read as a name is the root. Legal, if odd: the reply echoes it uncompressed.
        var query = be16(1) + be16(0x0100) + be16(1) + be16(0) + be16(0) + be16(0)
        query += [0xc0, 10] + be16(1) + be16(1)
        guard case .reply(let bytes) = resolver.answer(query, from: isolated, snapshot: snapshot)
        else { Issue.record("no reply"); return }
        let response = try decodeResponse(bytes)
        #expect(response.questionName == ".")
        #expect(response.rcode == 5)
        #expect(Array(bytes[12...]) == [0] + be16(1) + be16(1))
    }

    @Test mutating func truncatesOverUDPLimitButNotOverTCP() throws {
        var records = DNSRecords()
        records.addNetwork(netA)
        let many = (1...40).map { IPAddress.v4(IPv4Address(10, 9, 0, UInt8($0))) }
        records.add(names: ["many"], addresses: many, network: netA)
        records.setRequester(webA, networks: [netA])
        let snapshot = Snapshot(records: records, upstreams: [])

        guard case .reply(let udp) = resolver.answer(makeQuery(name: "many"), from: webA, snapshot: snapshot)
        else { Issue.record("no reply"); return }
        let truncated = try decodeResponse(udp)
        #expect(truncated.truncated)
        #expect(udp.count <= 512)
        #expect(truncated.answers.count == (512 - 12 - 10) / 16)

        guard case .reply(let edns) = resolver.answer(makeQuery(name: "many", ednsSize: 1232), from: webA, snapshot: snapshot)
        else { Issue.record("no reply"); return }
        let large = try decodeResponse(edns)
        #expect(!large.truncated)
        #expect(large.answers.count == 40)

        guard case .reply(let small) = resolver.answer(makeQuery(name: "many", ednsSize: 600), from: webA, snapshot: snapshot)
        else { Issue.record("no reply"); return }
        #expect(small.count <= 600)
        #expect(try decodeResponse(small).truncated)

        guard case .reply(let tcp) = resolver.answer(makeQuery(name: "many"), from: webA, snapshot: snapshot, overTCP: true)
        else { Issue.record("no reply"); return }
        let full = try decodeResponse(Array(tcp.dropFirst(2)))
        #expect(!full.truncated)
        #expect(full.answers.count == 40)
        #expect(Int(tcp[0]) << 8 | Int(tcp[1]) == tcp.count - 2)
    }
}

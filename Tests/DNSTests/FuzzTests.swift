import BerthCore
@testable import DNS
import Testing

/// Seeded mutations of valid queries: the parser must never crash, hang or read out of
/// bounds, and whatever it answers must be a well-formed response to that packet.
@Suite struct FuzzTests {
    static let seeds: [[UInt8]] = {
        var withRecords = be16(7) + be16(0x0100) + be16(1) + be16(1) + be16(0) + be16(1)
        withRecords += wireName("www.example.com") + be16(1) + be16(1)
        withRecords += [0xc0, 12] + be16(1) + be16(1) + [0, 0, 0, 1] + be16(4) + [1, 2, 3, 4]
        withRecords += [3, 0x66, 0x6f, 0x6f, 0xc0, 16] + be16(1) + be16(1) + [0, 0, 0, 1] + be16(4) + [1, 2, 3, 4]
        return [
            makeQuery(name: "web"),
            makeQuery(name: "frontend", type: 28, ednsSize: 1232),
            makeQuery(name: ReverseName.name(for: IPAddress("10.1.0.3")!), type: 12),
            makeQuery(name: ReverseName.name(for: IPAddress("fd00:1::2")!), type: 12, ednsSize: 4096),
            makeQuery(name: "db", type: 255),
            makeQuery(name: "a.very.long.name.that.is.not.local.example.org", type: 16),
            withRecords,
        ]
    }()

    static func mutate(_ packet: [UInt8], using rng: inout SeededGenerator) -> [UInt8] {
        var bytes = packet
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<8, using: &rng) {
            case 0 where !bytes.isEmpty:  // flip a bit
                let index = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !bytes.isEmpty:  // random byte
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 2:  // cut short
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
            case 3:  // append junk
                bytes += (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 4 where bytes.count > 13:  // plant a compression pointer anywhere after the header
                let index = Int.random(in: 12..<(bytes.count - 1), using: &rng)
                bytes[index] = 0xc0 | UInt8.random(in: 0...0x3f, using: &rng)
                bytes[index + 1] = UInt8.random(in: 0...255, using: &rng)
            case 5 where bytes.count >= 12:  // big section counts
                bytes[4 + 2 * Int.random(in: 0..<4, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 6 where bytes.count > 12:  // oversized label length byte
                bytes[Int.random(in: 12..<bytes.count, using: &rng)] = UInt8.random(in: 0x3c...0xff, using: &rng)
            default:  // duplicate a slice
                guard !bytes.isEmpty else { continue }
                let start = Int.random(in: 0..<bytes.count, using: &rng)
                let end = Int.random(in: start...bytes.count, using: &rng)
                bytes.insert(contentsOf: bytes[start..<end], at: Int.random(in: 0...bytes.count, using: &rng))
            }
        }
        return bytes
    }

    func check(_ packet: [UInt8], resolver: inout Resolver, snapshot: Snapshot, overTCP: Bool) throws {
        switch resolver.answer(packet, from: webA, snapshot: snapshot, overTCP: overTCP) {
        case .drop:
            #expect(packet.count < 12 || packet[2] & 0x80 != 0)
        case .forward:
            break
        case .reply(let framed):
            let bytes = overTCP ? Array(framed.dropFirst(2)) : framed
            if overTCP { #expect(Int(framed[0]) << 8 | Int(framed[1]) == bytes.count) }
            let response = try decodeResponse(bytes)
            #expect(response.id == UInt16(packet[0]) << 8 | UInt16(packet[1]))
            #expect(response.isResponse)
            if !overTCP { #expect(bytes.count <= 1232) }
        }
    }

    @Test func mutatedQueries() throws {
        var rng = SeededGenerator(state: 0x5eed_d0d5)
        var resolver = Resolver(ttl: 60)
        let snapshot = Snapshot(records: sampleRecords(), upstreams: [daemonUpstream])
        for iteration in 0..<30_000 {
            let seed = Self.seeds[iteration % Self.seeds.count]
            let packet = Self.mutate(seed, using: &rng)
            try check(packet, resolver: &resolver, snapshot: snapshot, overTCP: iteration % 5 == 0)
        }
    }

    @Test func randomGarbage() throws {
        var rng = SeededGenerator(state: 42)
        var resolver = Resolver(ttl: 60)
        let snapshot = Snapshot(records: sampleRecords(), upstreams: [daemonUpstream])
        for _ in 0..<10_000 {
            let packet = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try check(packet, resolver: &resolver, snapshot: snapshot, overTCP: false)
        }
    }

    @Test func nameReaderTerminatesAnywhere() {
        var rng = SeededGenerator(state: 7)
        var name: [UInt8] = []
        for _ in 0..<5_000 {
            // Dense in pointers and short labels, the worst case for following chains.
            let bytes = (0..<Int.random(in: 1...512, using: &rng)).map { _ in
                Bool.random(using: &rng) ? 0xc0 | UInt8.random(in: 0...1, using: &rng) : UInt8.random(in: 0...4, using: &rng)
            }
            let offset = Int.random(in: -2...bytes.count + 2, using: &rng)
            if let end = bytes.withUnsafeBytes({ NameCodec.read($0, at: offset, into: &name) }) {
                #expect(end.offset <= bytes.count)
                #expect(name.count <= 255)
            }
        }
    }
}

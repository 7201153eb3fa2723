/// Numbers from RFC 1035 §3.2 and §4.1 (and RFC 3596, 6891) that this server speaks.
enum RecordType {
    static let a: UInt16 = 1
    static let ptr: UInt16 = 12
    static let aaaa: UInt16 = 28
    static let opt: UInt16 = 41
    static let any: UInt16 = 255
}

enum RecordClass {
    static let internet: UInt16 = 1
    static let any: UInt16 = 255
}

/// Response codes (the 4-bit header RCODE; BADVERS lives in the OPT record's extended bits).
enum ResponseCode: UInt8 {
    case noError = 0
    case formatError = 1
    case serverFailure = 2
    case nameError = 3
    case notImplemented = 4
    case refused = 5
}

/// Header flag bits (second 16-bit word of the header).
enum HeaderFlags {
    static let response: UInt16 = 0x8000
    static let opcodeMask: UInt16 = 0x7800
    static let authoritative: UInt16 = 0x0400
    static let truncated: UInt16 = 0x0200
    static let recursionDesired: UInt16 = 0x0100
    static let recursionAvailable: UInt16 = 0x0080
    static let rcodeMask: UInt16 = 0x000f
}

enum WireLimits {
    static let headerLength = 12
    /// RFC 1035 §4.2.1: UDP answers without EDNS stop at 512 bytes.
    static let classicUDPPayload = 512
    /// What we advertise and the most we send over UDP even if the client offers more:
    /// the DNS flag day 2020 size, which never fragments on any real link.
    static let maxUDPPayload = 1232
}

/// A query that parsed cleanly: what the resolver needs, plus where the question ends so
/// the answer can echo it byte for byte (clients using 0x20 case randomisation check that).
struct Query: Equatable {
    var id: UInt16
    var flags: UInt16
    var type: UInt16
    var recordClass: UInt16
    /// Offset just past QTYPE/QCLASS; the question occupies `12..<questionEnd`.
    var questionEnd: Int
    /// True when the question name used a compression pointer, so it cannot be copied verbatim.
    var nameIsCompressed: Bool
    /// The OPT record's payload size, or nil when the query has no EDNS.
    var ednsPayloadSize: Int?
    var ednsVersion: UInt8

    var opcodeBits: UInt16 { flags & HeaderFlags.opcodeMask }
    var recursionDesired: Bool { flags & HeaderFlags.recursionDesired != 0 }

    /// Largest UDP answer this client accepts, bounded by what we are willing to send.
    var udpLimit: Int {
        guard let size = ednsPayloadSize else { return WireLimits.classicUDPPayload }
        return min(max(size, WireLimits.classicUDPPayload), WireLimits.maxUDPPayload)
    }

    /// The client's own limit, for relaying upstream answers (the upstream saw the same OPT).
    var clientUDPLimit: Int {
        max(ednsPayloadSize ?? WireLimits.classicUDPPayload, WireLimits.classicUDPPayload)
    }
}

/// The result of looking at an incoming packet.
enum ParsedPacket: Equatable {
    case query(Query)
    /// A readable header but something the server will not process: answer with `code`.
    case reject(id: UInt16, flags: UInt16, code: ResponseCode)
    /// Not worth an answer: shorter than a header, or a response (answering those invites loops).
    case drop
}

/// Bounds-checked big-endian reads over a received packet.
extension UnsafeRawBufferPointer {
    @inline(__always)
    func uint16(at offset: Int) -> UInt16? {
        guard offset >= 0, offset + 2 <= count else { return nil }
        return UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    @inline(__always)
    func uint32(at offset: Int) -> UInt32? {
        guard let high = uint16(at: offset), let low = uint16(at: offset + 2) else { return nil }
        return UInt32(high) << 16 | UInt32(low)
    }
}

enum QueryParser {
    /// Parses a query. `name` receives the question name as lower-cased uncompressed wire
    /// bytes (the key records are stored under); it is a caller-owned buffer so the hot path
    /// does not allocate.
    static func parse(_ packet: UnsafeRawBufferPointer, name: inout [UInt8]) -> ParsedPacket {
        guard packet.count >= WireLimits.headerLength,
              let id = packet.uint16(at: 0), let flags = packet.uint16(at: 2),
              let questions = packet.uint16(at: 4), let answers = packet.uint16(at: 6),
              let authorities = packet.uint16(at: 8), let additionals = packet.uint16(at: 10)
        else { return .drop }
        if flags & HeaderFlags.response != 0 { return .drop }
        func reject(_ code: ResponseCode) -> ParsedPacket { .reject(id: id, flags: flags, code: code) }
        guard flags & HeaderFlags.opcodeMask == 0 else { return reject(.notImplemented) }
        // Nobody implements several questions per message (RFC 9619); zero is malformed.
        guard questions == 1 else { return reject(.formatError) }

        guard let nameEnd = NameCodec.read(packet, at: WireLimits.headerLength, into: &name),
              let type = packet.uint16(at: nameEnd.offset), let recordClass = packet.uint16(at: nameEnd.offset + 2)
        else { return reject(.formatError) }
        var query = Query(
            id: id, flags: flags, type: type, recordClass: recordClass,
            questionEnd: nameEnd.offset + 4, nameIsCompressed: nameEnd.compressed,
            ednsPayloadSize: nil, ednsVersion: 0)

        // Answer and authority records are meaningless in a query but legal: skip them, checking bounds.
        var offset = query.questionEnd
        for _ in 0..<(Int(answers) + Int(authorities)) {
            guard let record = skipRecord(packet, at: offset) else { return reject(.formatError) }
            offset = record.end
        }
        for _ in 0..<Int(additionals) {
            guard let record = skipRecord(packet, at: offset) else { return reject(.formatError) }
            if record.type == RecordType.opt {
                // RFC 6891 §6.1.1: one OPT at most, owned by the root name.
                guard query.ednsPayloadSize == nil, record.rootOwner else { return reject(.formatError) }
                query.ednsPayloadSize = Int(record.recordClass)
                query.ednsVersion = UInt8(truncatingIfNeeded: record.ttl >> 16)
            }
            offset = record.end
        }
        // Bytes after the last record are ignored, as most servers do.
        return .query(query)
    }

    struct SkippedRecord {
        var end: Int
        var type: UInt16
        var recordClass: UInt16
        var ttl: UInt32
        var rootOwner: Bool
    }

    /// Walks over one resource record (name, fixed fields, RDATA) without storing it.
    static func skipRecord(_ packet: UnsafeRawBufferPointer, at offset: Int) -> SkippedRecord? {
        guard let name = NameCodec.skip(packet, at: offset),
              let type = packet.uint16(at: name),
              let recordClass = packet.uint16(at: name + 2),
              let ttl = packet.uint32(at: name + 4),
              let length = packet.uint16(at: name + 8)
        else { return nil }
        let end = name + 10 + Int(length)
        guard end <= packet.count else { return nil }
        return SkippedRecord(end: end, type: type, recordClass: recordClass, ttl: ttl, rootOwner: name == offset + 1)
    }
}

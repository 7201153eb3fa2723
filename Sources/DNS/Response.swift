import BerthCore
import NIOCore

/// Writes one response message into a `ByteBuffer`: header, the question echoed, answers
/// (each owner name is a pointer to the question name at offset 12), and an OPT record when
/// the query had one. Stops adding answers, and sets TC, when the next one would not fit.
struct ResponseWriter {
    private(set) var buffer: ByteBuffer
    /// Where the DNS message starts: 2 over TCP, after the length prefix.
    private let base: Int
    private let limit: Int
    private let query: Query
    private let optLength: Int
    private var answers: UInt16 = 0
    private var truncated = false

    static let optRecordLength = 11

    /// - Parameters:
    ///   - packet: the query as received, for copying its question.
    ///   - framed: prefix the message with its 2-byte length (DNS over TCP).
    ///   - limit: largest message allowed (the UDP limit, or 65535 over TCP).
    ///   - reusing: a buffer from an earlier reply, cleared and written again, so a server
    ///     answering one datagram after another does not allocate for each.
    init(
        query: Query, packet: UnsafeRawBufferPointer, framed: Bool, limit: Int, allocator: ByteBufferAllocator,
        reusing: ByteBuffer? = nil
    ) {
        self.query = query
        self.limit = limit
        self.optLength = query.ednsPayloadSize == nil ? 0 : Self.optRecordLength
        if var reused = reusing {
            reused.clear()
            buffer = reused
        } else {
            buffer = allocator.buffer(capacity: min(limit, 512) + (framed ? 2 : 0))
        }
        if framed { buffer.writeInteger(UInt16(0)) }
        base = buffer.writerIndex
        buffer.writeInteger(query.id)
        buffer.writeInteger(UInt16(0))  // flags, set by finish
        buffer.writeInteger(UInt16(1))  // one question
        buffer.writeInteger(UInt16(0))  // answers, set by finish
        buffer.writeInteger(UInt16(0))  // authority
        buffer.writeInteger(UInt16(0))  // additional, set by finish
        if !query.nameIsCompressed, query.questionEnd <= packet.count {
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: packet[WireLimits.headerLength..<query.questionEnd]))
        } else {
            // Rare: a compressed question name. Echo it expanded (and lower-cased).
            var name: [UInt8] = []
            _ = NameCodec.read(packet, at: WireLimits.headerLength, into: &name)
            buffer.writeBytes(name.isEmpty ? [0] : name)
            buffer.writeInteger(query.type)
            buffer.writeInteger(query.recordClass)
        }
    }

    private var length: Int { buffer.writerIndex - base }

    private mutating func fits(_ recordLength: Int) -> Bool {
        if truncated || length + recordLength + optLength > limit {
            truncated = true
            return false
        }
        return true
    }

    private mutating func writeRecordHead(type: UInt16, ttl: UInt32, dataLength: Int) {
        buffer.writeInteger(UInt16(0xc000 | WireLimits.headerLength))  // pointer to the question name
        buffer.writeInteger(type)
        buffer.writeInteger(RecordClass.internet)
        buffer.writeInteger(ttl)
        buffer.writeInteger(UInt16(dataLength))
        answers += 1
    }

    /// Appends an A or AAAA record; false when it did not fit (TC is then set).
    @discardableResult
    mutating func appendAddress(_ address: IPAddress, ttl: UInt32) -> Bool {
        switch address {
        case .v4(let v4):
            guard fits(16) else { return false }
            writeRecordHead(type: RecordType.a, ttl: ttl, dataLength: 4)
            buffer.writeInteger(v4.value)
        case .v6(let v6):
            guard fits(28) else { return false }
            writeRecordHead(type: RecordType.aaaa, ttl: ttl, dataLength: 16)
            buffer.writeInteger(v6.high)
            buffer.writeInteger(v6.low)
        }
        return true
    }

    /// Appends a PTR record whose target is an uncompressed wire name.
    @discardableResult
    mutating func appendPointer(to target: [UInt8], ttl: UInt32) -> Bool {
        guard fits(12 + target.count) else { return false }
        writeRecordHead(type: RecordType.ptr, ttl: ttl, dataLength: target.count)
        buffer.writeBytes(target)
        return true
    }

    /// Fills in the header (and OPT, TCP length) and returns the message.
    /// `extendedCode` is the upper 8 bits of a 12-bit RCODE (1 for BADVERS).
    mutating func finish(
        _ code: ResponseCode, authoritative: Bool, recursionAvailable: Bool, extendedCode: UInt8 = 0
    ) -> ByteBuffer {
        var flags = HeaderFlags.response | query.opcodeBits | (query.flags & HeaderFlags.recursionDesired)
        if authoritative { flags |= HeaderFlags.authoritative }
        if recursionAvailable { flags |= HeaderFlags.recursionAvailable }
        if truncated { flags |= HeaderFlags.truncated }
        flags |= UInt16(code.rawValue)
        buffer.setInteger(flags, at: base + 2)
        buffer.setInteger(answers, at: base + 6)
        if optLength > 0 {
            buffer.writeInteger(UInt8(0))  // root owner
            buffer.writeInteger(RecordType.opt)
            buffer.writeInteger(UInt16(WireLimits.maxUDPPayload))  // our receive size
            buffer.writeInteger(UInt32(extendedCode) << 24)  // extended RCODE, version 0, no DO
            buffer.writeInteger(UInt16(0))
            buffer.setInteger(UInt16(1), at: base + 10)
        }
        if base == 2 { buffer.setInteger(UInt16(length), at: 0) }
        return buffer
    }

    /// A header with no sections, for queries whose question cannot be trusted (FORMERR) or
    /// whose opcode we do not implement.
    static func headerOnly(id: UInt16, queryFlags: UInt16, code: ResponseCode, framed: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 14)
        if framed { buffer.writeInteger(UInt16(WireLimits.headerLength)) }
        let flags = HeaderFlags.response | (queryFlags & (HeaderFlags.opcodeMask | HeaderFlags.recursionDesired))
            | UInt16(code.rawValue)
        buffer.writeInteger(id)
        buffer.writeInteger(flags)
        buffer.writeInteger(UInt64(0))  // four zero counts
        return buffer
    }

    /// An upstream answer on its way to the client: the client's ID restored, framed for
    /// TCP, or cut down to header and question with TC if it exceeds what the client accepts
    /// over UDP (a well-behaved upstream already did that, having seen the client's OPT).
    static func relay(
        _ answer: ByteBuffer, query: Query, packet: UnsafeRawBufferPointer, framed: Bool, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        if !framed, answer.readableBytes > query.clientUDPLimit {
            var writer = ResponseWriter(query: query, packet: packet, framed: false, limit: 0, allocator: allocator)
            writer.truncated = true
            let flags = answer.getInteger(at: answer.readerIndex + 2, as: UInt16.self) ?? 0
            let code = ResponseCode(rawValue: UInt8(flags & HeaderFlags.rcodeMask)) ?? .serverFailure
            return writer.finish(code, authoritative: false, recursionAvailable: true)
        }
        var out = allocator.buffer(capacity: answer.readableBytes + (framed ? 2 : 0))
        if framed { out.writeInteger(UInt16(answer.readableBytes)) }
        let start = out.writerIndex
        out.writeImmutableBuffer(answer)
        out.setInteger(query.id, at: start)
        return out
    }
}

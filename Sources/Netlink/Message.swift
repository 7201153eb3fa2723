// Message framing: struct nlmsghdr plus the rtnetlink family headers that open each
// payload (ifinfomsg, ifaddrmsg, rtmsg, ndmsg), for both directions.

/// Address families as rtnetlink spells them (AF_*).
public enum AddressFamily: UInt8, Sendable, Hashable {
    case unspecified = 0
    case ipv4 = 2
    case bridge = 7
    case ipv6 = 10
}

/// An outgoing message: type, flags and payload (family header followed by attributes).
/// The sequence number is stamped when it is encoded, so a request can be reused.
public struct NetlinkMessage: Sendable, Equatable {
    public var type: UInt16
    public var flags: UInt16
    public var payload: [UInt8]

    public init(type: UInt16, flags: UInt16, header: [UInt8], attributes: AttributeWriter = AttributeWriter()) {
        self.type = type
        self.flags = flags
        var payload = header
        payload.padToAlignment()
        payload.append(contentsOf: attributes.bytes)
        self.payload = payload
    }

    /// The wire form: nlmsghdr (length, type, flags, seq, pid 0 = "kernel assigns")
    /// followed by the payload.
    public func encoded(sequence: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + payload.count)
        bytes.appendHostOrder(UInt32(16 + payload.count))
        bytes.appendHostOrder(type)
        bytes.appendHostOrder(flags)
        bytes.appendHostOrder(sequence)
        bytes.appendHostOrder(UInt32(0))
        bytes.append(contentsOf: payload)
        return bytes
    }
}

/// One message out of a received datagram.
public struct ReceivedMessage: Sendable, Equatable {
    public var type: UInt16
    public var flags: UInt16
    public var sequence: UInt32
    public var portID: UInt32
    /// Everything after the 16-byte nlmsghdr, up to nlmsg_len.
    public var payload: ArraySlice<UInt8>

    /// Splits a datagram into its messages. A datagram may hold several (acks of a
    /// batch, parts of a dump); each is checked against the bytes actually received.
    public static func split(_ datagram: [UInt8]) throws(NetlinkParseError) -> [ReceivedMessage] {
        var messages: [ReceivedMessage] = []
        let all = datagram[...]
        var offset = 0
        while datagram.count - offset >= 16 {
            let length = Int(all.loadHostOrder(UInt32.self, at: offset))
            guard length >= 16, length <= datagram.count - offset else {
                throw NetlinkParseError(
                    offset: offset, reason: "message length \(length) with \(datagram.count - offset) bytes left")
            }
            messages.append(ReceivedMessage(
                type: all.loadHostOrder(UInt16.self, at: offset + 4),
                flags: all.loadHostOrder(UInt16.self, at: offset + 6),
                sequence: all.loadHostOrder(UInt32.self, at: offset + 8),
                portID: all.loadHostOrder(UInt32.self, at: offset + 12),
                payload: all[(offset + 16)..<(offset + length)]))
            offset += min(netlinkAligned(length), datagram.count - offset)
        }
        return messages
    }

    /// The attributes that follow a fixed family header of `headerSize` bytes.
    public func attributes(after headerSize: Int) throws(NetlinkParseError) -> Attributes {
        guard payload.count >= headerSize else {
            throw NetlinkParseError(offset: 16, reason: "payload of \(payload.count) bytes, header needs \(headerSize)")
        }
        return try Attributes(parsing: payload.dropFirst(netlinkAligned(headerSize)))
    }
}

/// What an NLMSG_ERROR (or the status of an NLMSG_DONE) says: an errno (0 = ack) and
/// the kernel's extended-ack text, if any.
package struct AckStatus: Sendable, Equatable {
    package var errno: Int32
    package var kernelMessage: String?

    /// Parses an NLMSG_ERROR payload: s32 error, the request's nlmsghdr, the request's
    /// payload unless NLM_F_CAPPED, then extack TLVs if NLM_F_ACK_TLVS.
    package init(errorMessage message: ReceivedMessage) throws(NetlinkParseError) {
        let payload = message.payload
        guard payload.count >= 4 else { throw NetlinkParseError(offset: 16, reason: "short NLMSG_ERROR") }
        errno = -payload.loadHostOrder(Int32.self, at: 0)
        kernelMessage = nil
        guard message.flags & Flag.ackTLVs != 0, payload.count >= 20 else { return }
        var tlvOffset = 20
        if message.flags & Flag.capped == 0 {
            tlvOffset = 4 + netlinkAligned(Int(payload.loadHostOrder(UInt32.self, at: 4)))
        }
        guard tlvOffset <= payload.count else { return }
        kernelMessage = try Self.extAckMessage(payload.dropFirst(tlvOffset))
    }

    /// Parses an NLMSG_DONE payload: s32 status (negative errno if the dump failed
    /// late), then extack TLVs if NLM_F_ACK_TLVS.
    package init(doneMessage message: ReceivedMessage) throws(NetlinkParseError) {
        let payload = message.payload
        errno = payload.count >= 4 ? -payload.loadHostOrder(Int32.self, at: 0) : 0
        kernelMessage = nil
        if message.flags & Flag.ackTLVs != 0, payload.count > 4 {
            kernelMessage = try Self.extAckMessage(payload.dropFirst(4))
        }
    }

    private static func extAckMessage(_ bytes: ArraySlice<UInt8>) throws(NetlinkParseError) -> String? {
        let text = try Attributes(parsing: bytes)[type: ExtAck.message]?.string
        return text?.isEmpty == false ? text : nil
    }
}

/// struct ifinfomsg (16 bytes): family, pad, type, index, flags, change.
public struct InterfaceInfoHeader: Sendable, Equatable {
    public static let size = 16
    public var family: UInt8 = 0
    public var deviceType: UInt16 = 0
    public var index: Int32 = 0
    public var flags: UInt32 = 0
    public var change: UInt32 = 0

    public init(index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        self.index = index
        self.flags = flags
        self.change = change
    }

    public var encoded: [UInt8] {
        var bytes: [UInt8] = [family, 0]
        bytes.appendHostOrder(deviceType)
        bytes.appendHostOrder(index)
        bytes.appendHostOrder(flags)
        bytes.appendHostOrder(change)
        return bytes
    }

    public init?(decoding bytes: ArraySlice<UInt8>) {
        guard bytes.count >= Self.size else { return nil }
        family = bytes[bytes.startIndex]
        deviceType = bytes.loadHostOrder(UInt16.self, at: 2)
        index = bytes.loadHostOrder(Int32.self, at: 4)
        flags = bytes.loadHostOrder(UInt32.self, at: 8)
        change = bytes.loadHostOrder(UInt32.self, at: 12)
    }
}

/// struct ifaddrmsg (8 bytes): family, prefixlen, flags, scope, index.
public struct AddressHeader: Sendable, Equatable {
    public static let size = 8
    public var family: UInt8
    public var prefixLength: UInt8
    public var flags: UInt8 = 0
    public var scope: UInt8 = 0
    public var index: UInt32

    public init(family: AddressFamily, prefixLength: UInt8, index: UInt32) {
        self.family = family.rawValue
        self.prefixLength = prefixLength
        self.index = index
    }

    public var encoded: [UInt8] {
        var bytes: [UInt8] = [family, prefixLength, flags, scope]
        bytes.appendHostOrder(index)
        return bytes
    }

    public init?(decoding bytes: ArraySlice<UInt8>) {
        guard bytes.count >= Self.size else { return nil }
        let base = bytes.startIndex
        family = bytes[base]
        prefixLength = bytes[base + 1]
        flags = bytes[base + 2]
        scope = bytes[base + 3]
        index = bytes.loadHostOrder(UInt32.self, at: 4)
    }
}

/// struct rtmsg (12 bytes): family, dst_len, src_len, tos, table, protocol, scope, type, flags.
public struct RouteHeader: Sendable, Equatable {
    public static let size = 12
    public var family: UInt8
    public var destinationLength: UInt8 = 0
    public var sourceLength: UInt8 = 0
    public var tos: UInt8 = 0
    public var table: UInt8 = 0
    public var routeProtocol: UInt8 = 0
    public var scope: UInt8 = 0
    public var type: UInt8 = 0
    public var flags: UInt32 = 0

    public init(family: AddressFamily) { self.family = family.rawValue }

    public var encoded: [UInt8] {
        var bytes: [UInt8] = [family, destinationLength, sourceLength, tos, table, routeProtocol, scope, type]
        bytes.appendHostOrder(flags)
        return bytes
    }

    public init?(decoding bytes: ArraySlice<UInt8>) {
        guard bytes.count >= Self.size else { return nil }
        let base = bytes.startIndex
        family = bytes[base]
        destinationLength = bytes[base + 1]
        sourceLength = bytes[base + 2]
        tos = bytes[base + 3]
        table = bytes[base + 4]
        routeProtocol = bytes[base + 5]
        scope = bytes[base + 6]
        type = bytes[base + 7]
        flags = bytes.loadHostOrder(UInt32.self, at: 8)
    }
}

/// struct ndmsg (12 bytes): family, pad, pad, ifindex, state, flags, type.
public struct NeighbourHeader: Sendable, Equatable {
    public static let size = 12
    public var family: UInt8
    public var index: Int32
    public var state: UInt16 = 0
    public var flags: UInt8 = 0
    public var type: UInt8 = 0

    public init(family: AddressFamily, index: Int32) {
        self.family = family.rawValue
        self.index = index
    }

    public var encoded: [UInt8] {
        var bytes: [UInt8] = [family, 0, 0, 0]
        bytes.appendHostOrder(index)
        bytes.appendHostOrder(state)
        bytes.append(flags)
        bytes.append(type)
        return bytes
    }

    public init?(decoding bytes: ArraySlice<UInt8>) {
        guard bytes.count >= Self.size else { return nil }
        family = bytes[bytes.startIndex]
        index = bytes.loadHostOrder(Int32.self, at: 4)
        state = bytes.loadHostOrder(UInt16.self, at: 8)
        flags = bytes[bytes.startIndex + 10]
        type = bytes[bytes.startIndex + 11]
    }
}

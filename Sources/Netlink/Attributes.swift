// The one TLV codec for netlink attributes (struct nlattr: u16 length, u16 type,
// payload, padding to 4 bytes). Every request is built and every reply is read through
// it, so no message computes offsets by hand.

/// Rounds a length up to netlink's 4-byte alignment (NLA_ALIGN / NLMSG_ALIGN).
@inline(__always)
package func netlinkAligned(_ length: Int) -> Int { (length + 3) & ~3 }

extension Array where Element == UInt8 {
    /// Appends an integer in host byte order, which is what netlink uses for every
    /// field not explicitly marked big-endian.
    @inline(__always)
    package mutating func appendHostOrder<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value) { append(contentsOf: $0) }
    }

    /// Pads with zero bytes up to the next 4-byte boundary.
    @inline(__always)
    package mutating func padToAlignment() {
        let padding = netlinkAligned(count) - count
        if padding > 0 { append(contentsOf: repeatElement(0, count: padding)) }
    }
}

/// Builds a run of attributes. Nests are built by a closure over a child writer, and
/// the child's length is measured, not computed, when the nest is closed.
public struct AttributeWriter: Sendable, Equatable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Appends one attribute with a raw payload, padded to 4 bytes.
    public mutating func append(_ type: UInt16, bytes payload: some Collection<UInt8>) {
        let length = 4 + payload.count
        precondition(length <= Int(UInt16.max), "netlink attribute too long")
        bytes.appendHostOrder(UInt16(length))
        bytes.appendHostOrder(type)
        bytes.append(contentsOf: payload)
        bytes.padToAlignment()
    }

    public mutating func append(_ type: UInt16, uint8 value: UInt8) { append(type, bytes: CollectionOfOne(value)) }

    public mutating func append(_ type: UInt16, uint16 value: UInt16) {
        append(type, bytes: Swift.withUnsafeBytes(of: value) { Array($0) })
    }

    public mutating func append(_ type: UInt16, uint32 value: UInt32) {
        append(type, bytes: Swift.withUnsafeBytes(of: value) { Array($0) })
    }

    public mutating func append(_ type: UInt16, int32 value: Int32) {
        append(type, uint32: UInt32(bitPattern: value))
    }

    /// A 16-bit value in network byte order (ports). The kernel does not require
    /// NLA_F_NET_BYTEORDER for these, so the type is left as given.
    public mutating func append(_ type: UInt16, bigEndian16 value: UInt16) {
        append(type, bytes: [UInt8(value >> 8), UInt8(value & 0xff)])
    }

    /// A NUL-terminated string, as NLA_STRING / NLA_NUL_STRING policies accept.
    public mutating func append(_ type: UInt16, string: String) {
        append(type, bytes: Array(string.utf8) + [0])
    }

    /// Appends a fixed header (a family struct) that precedes attributes inside a nest,
    /// as VETH_INFO_PEER's ifinfomsg does.
    public mutating func appendHeader(_ header: [UInt8]) {
        bytes.append(contentsOf: header)
        bytes.padToAlignment()
    }

    /// Appends a nested attribute whose contents `body` writes. `flagNested` sets
    /// NLA_F_NESTED, which strict kernel policies require on real nests; payloads that
    /// are a struct followed by attributes (VETH_INFO_PEER) are not flagged.
    public mutating func nest(
        _ type: UInt16, flagNested: Bool = true, _ body: (inout AttributeWriter) throws -> Void
    ) rethrows {
        var child = AttributeWriter()
        try body(&child)
        append(flagNested ? type | AttributeFlag.nested : type, bytes: child.bytes)
    }
}

/// One parsed attribute. `type` has NLA_F_NESTED / NLA_F_NET_BYTEORDER masked off.
public struct Attribute: Sendable, Equatable {
    public var type: UInt16
    public var isNested: Bool
    public var payload: ArraySlice<UInt8>

    public init(type: UInt16, isNested: Bool = false, payload: ArraySlice<UInt8>) {
        self.type = type
        self.isNested = isNested
        self.payload = payload
    }

    public var uint8: UInt8? { payload.count >= 1 ? payload[payload.startIndex] : nil }

    public var uint16: UInt16? { payload.count >= 2 ? payload.loadHostOrder(UInt16.self, at: 0) : nil }

    public var uint32: UInt32? { payload.count >= 4 ? payload.loadHostOrder(UInt32.self, at: 0) : nil }

    public var int32: Int32? { uint32.map { Int32(bitPattern: $0) } }

    public var bigEndian16: UInt16? {
        payload.count >= 2 ? UInt16(payload[payload.startIndex]) << 8 | UInt16(payload[payload.startIndex + 1]) : nil
    }

    /// The payload as text, up to the first NUL (strings from the kernel are terminated).
    public var string: String {
        let end = payload.firstIndex(of: 0) ?? payload.endIndex
        return String(decoding: payload[payload.startIndex..<end], as: UTF8.self)
    }

    /// Parses the payload as a run of attributes.
    public func nested() throws(NetlinkParseError) -> Attributes { try Attributes(parsing: payload) }
}

/// Why a received message or a run of attributes could not be parsed.
public struct NetlinkParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "malformed netlink reply at byte \(offset): \(reason)" }
}

/// A parsed run of attributes, in wire order.
public struct Attributes: Sendable, Equatable, RandomAccessCollection {
    public var elements: [Attribute]

    public init(_ elements: [Attribute] = []) { self.elements = elements }

    /// Parses every attribute in `bytes`, checking each length against what is left.
    public init(parsing bytes: ArraySlice<UInt8>) throws(NetlinkParseError) {
        var elements: [Attribute] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            let length = Int(bytes.loadHostOrder(UInt16.self, at: offset - bytes.startIndex))
            let rawType = bytes.loadHostOrder(UInt16.self, at: offset - bytes.startIndex + 2)
            guard length >= 4, length <= bytes.endIndex - offset else {
                throw NetlinkParseError(
                    offset: offset - bytes.startIndex,
                    reason: "length \(length) with \(bytes.endIndex - offset) bytes left")
            }
            elements.append(Attribute(
                type: rawType & AttributeFlag.typeMask,
                isNested: rawType & AttributeFlag.nested != 0,
                payload: bytes[(offset + 4)..<(offset + length)]))
            offset += Swift.min(netlinkAligned(length), bytes.endIndex - offset)
        }
        // Up to 3 trailing bytes can only be padding; more would have been parsed above.
        self.elements = elements
    }

    public var startIndex: Int { elements.startIndex }
    public var endIndex: Int { elements.endIndex }
    public subscript(position: Int) -> Attribute { elements[position] }

    /// The first attribute of a type; the kernel sends each at most once where it matters.
    public subscript(type type: UInt16) -> Attribute? { elements.first { $0.type == type } }
}

extension ArraySlice<UInt8> {
    /// Reads a host-order integer at an offset relative to the slice start; the caller
    /// has checked the bounds.
    @inline(__always)
    package func loadHostOrder<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value = T.zero
        Swift.withUnsafeMutableBytes(of: &value) { raw in
            for index in 0..<MemoryLayout<T>.size {
                raw[index] = self[startIndex + offset + index]
            }
        }
        return value
    }
}

/// Domain names on the wire (RFC 1035 §3.1, §4.1.4): length-prefixed labels ending in a zero
/// byte, where a 2-byte pointer (top bits 11) may stand for the rest of the name.
///
/// Inside this target a name is kept in that uncompressed wire form, lower-cased, including
/// the final zero: it is both the dictionary key and what gets written into answers.
enum NameCodec {
    static let maxNameLength = 255
    static let maxLabelLength = 63

    struct End {
        /// Offset just past the name where it started (past the first pointer, if any).
        var offset: Int
        var compressed: Bool
    }

    /// Reads the name at `offset` into `name` (cleared first, lower-cased ASCII), following
    /// pointers. Returns nil for anything malformed: out of bounds, a label over 63 bytes, a
    /// name over 255 bytes, reserved label types, or a pointer that does not go strictly
    /// backwards from the segment it appears in (which is what rules out loops: every jump
    /// lands lower than the last, so reading always ends).
    static func read(_ packet: UnsafeRawBufferPointer, at offset: Int, into name: inout [UInt8]) -> End? {
        name.removeAll(keepingCapacity: true)
        return walk(packet, at: offset, into: &name)
    }

    /// Like `read` without keeping the name; returns the offset past it.
    static func skip(_ packet: UnsafeRawBufferPointer, at offset: Int) -> Int? {
        var none: [UInt8]? = nil
        return walk(packet, at: offset, into: &none)?.offset
    }

    /// One walk serves both reading and skipping; `Sink` is `[UInt8]` or `[UInt8]?` (nil: discard).
    private static func walk<Sink: NameSink>(_ packet: UnsafeRawBufferPointer, at start: Int, into name: inout Sink) -> End? {
        var position = start
        var segmentStart = start
        var end: Int? = nil
        var length = 0
        var jumps = 0
        while true {
            guard position >= 0, position < packet.count else { return nil }
            let byte = packet[position]
            switch byte & 0xc0 {
            case 0x00:
                let labelLength = Int(byte)
                length += labelLength + 1
                guard length <= maxNameLength else { return nil }
                if labelLength == 0 {
                    name.append(0)
                    return End(offset: end ?? position + 1, compressed: end != nil)
                }
                guard position + 1 + labelLength <= packet.count else { return nil }
                name.append(byte)
                for index in (position + 1)...(position + labelLength) {
                    name.append(lowercased(packet[index]))
                }
                position += 1 + labelLength
            case 0xc0:
                guard position + 1 < packet.count else { return nil }
                let target = Int(byte & 0x3f) << 8 | Int(packet[position + 1])
                jumps += 1
                guard target < segmentStart, jumps <= maxNameLength / 2 else { return nil }
                if end == nil { end = position + 2 }
                position = target
                segmentStart = target
            default:
                // 0x40 (extended label types, RFC 6891 §5) and 0x80 are not in use.
                return nil
            }
        }
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    /// Turns text ("web", "db.internal.", "WEB") into the lower-cased wire key, or nil when
    /// it cannot be a DNS name (empty label, a label over 63 bytes, over 255 bytes in all).
    static func key(_ text: String) -> [UInt8]? {
        var text = Substring(text)
        if text.hasSuffix(".") { text = text.dropLast() }
        guard !text.isEmpty else { return nil }
        var wire: [UInt8] = []
        for label in text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard (1...maxLabelLength).contains(label.count) else { return nil }
            wire.append(UInt8(label.count))
            wire.append(contentsOf: label.map(lowercased))
        }
        wire.append(0)
        return wire.count <= maxNameLength ? wire : nil
    }

    /// Like `key` but keeping the letters' case, for names sent back as PTR targets.
    static func wire(_ text: String) -> [UInt8]? {
        guard key(text) != nil else { return nil }
        var text = Substring(text)
        if text.hasSuffix(".") { text = text.dropLast() }
        var wire: [UInt8] = []
        for label in text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            wire.append(UInt8(label.count))
            wire.append(contentsOf: label)
        }
        wire.append(0)
        return wire
    }

    /// Dotted text of a wire name, for messages and tests.
    static func text(_ wire: [UInt8]) -> String {
        var labels: [String] = []
        var index = 0
        while index < wire.count, wire[index] != 0 {
            let length = Int(wire[index])
            let end = min(index + 1 + length, wire.count)
            labels.append(String(decoding: wire[(index + 1)..<end], as: UTF8.self))
            index = end
        }
        return labels.joined(separator: ".") + "."
    }
}

/// Where `NameCodec.walk` puts bytes: an array, or nowhere.
protocol NameSink {
    mutating func append(_ byte: UInt8)
}

extension Array: NameSink where Element == UInt8 {}

extension Optional: NameSink where Wrapped == [UInt8] {
    @inline(__always)
    mutating func append(_ byte: UInt8) {}
}

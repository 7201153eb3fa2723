import BerthCore

/// PTR owner names: `d.c.b.a.in-addr.arpa` (RFC 1035 §3.5) and 32 nibbles under
/// `ip6.arpa` (RFC 3596 §2.5).
enum ReverseName {
    private static let inAddrArpa: [UInt8] = Array("\u{7}in-addr\u{4}arpa\u{0}".utf8)
    private static let ip6Arpa: [UInt8] = Array("\u{3}ip6\u{4}arpa\u{0}".utf8)

    /// The address a full reverse name stands for, from a lower-cased wire key; nil for
    /// anything else (including partial names such as `10.in-addr.arpa`).
    static func address(fromKey key: [UInt8]) -> IPAddress? {
        if key.count > inAddrArpa.count, key.suffix(inAddrArpa.count).elementsEqual(inAddrArpa) {
            return ipv4(key, labelsEnd: key.count - inAddrArpa.count)
        }
        if key.count == 64 + ip6Arpa.count, key.suffix(ip6Arpa.count).elementsEqual(ip6Arpa) {
            return ipv6(key)
        }
        return nil
    }

    private static func ipv4(_ key: [UInt8], labelsEnd: Int) -> IPAddress? {
        var octets: [UInt32] = []
        var index = 0
        while index < labelsEnd {
            let length = Int(key[index])
            guard (1...3).contains(length), index + 1 + length <= labelsEnd else { return nil }
            var value: UInt32 = 0
            for digit in key[(index + 1)...(index + length)] {
                guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + UInt32(digit - UInt8(ascii: "0"))
            }
            // "01" is not how anyone writes an octet; refusing it keeps one name per address.
            guard value <= 255, !(length > 1 && key[index + 1] == UInt8(ascii: "0")) else { return nil }
            octets.append(value)
            index += 1 + length
        }
        guard octets.count == 4 else { return nil }
        return .v4(IPv4Address(octets[3] << 24 | octets[2] << 16 | octets[1] << 8 | octets[0]))
    }

    private static func ipv6(_ key: [UInt8]) -> IPAddress? {
        var high: UInt64 = 0, low: UInt64 = 0
        // Nibble labels come least significant first: label i is nibble 31 - i.
        for label in 0..<32 {
            guard key[label * 2] == 1, let nibble = hexValue(key[label * 2 + 1]) else { return nil }
            let position = 31 - label
            if position < 16 {
                high |= UInt64(nibble) << UInt64(60 - 4 * position)
            } else {
                low |= UInt64(nibble) << UInt64(60 - 4 * (position - 16))
            }
        }
        return .v6(IPv6Address(high: high, low: low))
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// The reverse name for an address, as text (used by tests and for symmetry).
    static func name(for address: IPAddress) -> String {
        switch address {
        case .v4(let v4):
            return v4.bytes.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa."
        case .v6(let v6):
            let nibbles = v6.bytes.flatMap { [$0 >> 4, $0 & 0xf] }
            return nibbles.reversed().map { String($0, radix: 16) }.joined(separator: ".") + ".ip6.arpa."
        }
    }
}

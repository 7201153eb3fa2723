/// An IPv4 address held as a host-order integer, so arithmetic (next address,
/// offsets inside a subnet) is plain integer math.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad notation; rejects leading zeros and out-of-range parts.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var result: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII),
                  let octet = UInt8(part), !(part.count > 1 && part.first == "0") else { return nil }
            result = result << 8 | UInt32(octet)
        }
        value = result
    }

    /// Network byte order, as netlink and the wire want it.
    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 4 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    /// The address `offset` further on, nil past 255.255.255.255: input cannot make it trap.
    public func advanced(by offset: UInt32) -> IPv4Address? {
        let (sum, overflow) = value.addingReportingOverflow(offset)
        return overflow ? nil : IPv4Address(sum)
    }
}

/// An IPv6 address as two host-order 64-bit halves.
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let array = Array(bytes)
        high = array[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = array[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Parses RFC 4291 text forms, including `::` compression and an embedded IPv4 tail.
    public init?(_ text: some StringProtocol) {
        let text = String(text)
        guard !text.isEmpty, text.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        var groups: [UInt16] = []
        var tailGroups: [UInt16] = []
        // Split on "::" without Foundation: at most one occurrence is allowed.
        var halves: [String] = []
        if let range = text.firstRange(of: "::") {
            let rest = String(text[range.upperBound...])
            guard rest.firstRange(of: "::") == nil else { return nil }
            halves = [String(text[..<range.lowerBound]), rest]
        } else {
            halves = [text]
        }

        func parseGroups(_ part: String, allowIPv4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, field) in fields.enumerated() {
                if field.contains(".") {
                    guard allowIPv4Tail, index == fields.count - 1, let v4 = IPv4Address(field) else { return nil }
                    result.append(UInt16(v4.value >> 16))
                    result.append(UInt16(v4.value & 0xffff))
                } else {
                    guard (1...4).contains(field.count), let group = UInt16(field, radix: 16) else { return nil }
                    result.append(group)
                }
            }
            return result
        }

        if halves.count == 2 {
            guard let head = parseGroups(halves[0], allowIPv4Tail: false),
                  let tail = parseGroups(halves[1], allowIPv4Tail: true),
                  head.count + tail.count <= 7 else { return nil }
            groups = head
            tailGroups = tail
            groups += Array(repeating: 0, count: 8 - head.count - tail.count) + tailGroups
        } else {
            guard let all = parseGroups(halves[0], allowIPv4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        high = groups[0..<4].reduce(0) { $0 << 16 | UInt64($1) }
        low = groups[4..<8].reduce(0) { $0 << 16 | UInt64($1) }
    }

    public var bytes: [UInt8] {
        (0..<8).map { UInt8(high >> (56 - 8 * UInt64($0)) & 0xff) } +
            (0..<8).map { UInt8(low >> (56 - 8 * UInt64($0)) & 0xff) }
    }

    var groups: [UInt16] {
        (0..<4).map { UInt16(high >> (48 - 16 * UInt64($0)) & 0xffff) } +
            (0..<4).map { UInt16(low >> (48 - 16 * UInt64($0)) & 0xffff) }
    }

    /// RFC 5952 canonical text: lower case, longest zero run (length ≥ 2) compressed.
    public var description: String {
        let groups = self.groups
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { bestStart = runStart; bestLength = index - runStart }
                runStart = -1
            }
        }
        if bestLength < 2 { return groups.map { String($0, radix: 16) }.joined(separator: ":") }
        let head = groups[..<bestStart].map { String($0, radix: 16) }.joined(separator: ":")
        let tail = groups[(bestStart + bestLength)...].map { String($0, radix: 16) }.joined(separator: ":")
        return head + "::" + tail
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// Adds an offset to the low half (subnets handed out are at most /64 wide in the host part).
    public func adding(_ offset: UInt64) -> IPv6Address {
        let (sum, overflow) = low.addingReportingOverflow(offset)
        return IPv6Address(high: overflow ? high &+ 1 : high, low: sum)
    }

    /// The address `offset` further on, nil past ffff:...:ffff (where `adding` would wrap).
    public func advanced(by offset: UInt64) -> IPv6Address? {
        let (sum, carry) = low.addingReportingOverflow(offset)
        guard carry else { return IPv6Address(high: high, low: sum) }
        let (next, overflow) = high.addingReportingOverflow(1)
        return overflow ? nil : IPv6Address(high: next, low: sum)
    }
}

/// Either family, for places (API fields, DNS answers) that carry both.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public init?(_ text: some StringProtocol) {
        if let v4 = IPv4Address(text) { self = .v4(v4) }
        else if let v6 = IPv6Address(text) { self = .v6(v6) }
        else { return nil }
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): a.bytes
        case .v6(let a): a.bytes
        }
    }

    public var isIPv4: Bool { if case .v4 = self { true } else { false } }
}

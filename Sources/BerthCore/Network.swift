/// An IPv4 prefix such as 172.17.0.0/16. `address` keeps the host bits as given,
/// so "172.17.0.1/16" is representable as an interface address.
public struct IPv4Network: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var prefixLength: Int

    public init?(address: IPv4Address, prefixLength: Int) {
        guard (0...32).contains(prefixLength) else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses "a.b.c.d/n".
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]),
              parts[1].count <= 2, parts[1].allSatisfy(\.isNumber), let length = Int(parts[1]) else { return nil }
        self.init(address: address, prefixLength: length)
    }

    public var mask: UInt32 { prefixLength == 0 ? 0 : UInt32.max << (32 - UInt32(prefixLength)) }
    /// The network address (host bits cleared).
    public var networkAddress: IPv4Address { IPv4Address(address.value & mask) }
    public var broadcast: IPv4Address { IPv4Address(address.value | ~mask) }
    /// The prefix with host bits cleared.
    public var canonical: IPv4Network { IPv4Network(uncheckedAddress: networkAddress, prefixLength: prefixLength) }
    public var isCanonical: Bool { address == networkAddress }
    /// Number of addresses in the prefix.
    public var size: UInt64 { UInt64(1) << UInt64(32 - prefixLength) }

    public func contains(_ other: IPv4Address) -> Bool { other.value & mask == networkAddress.value }

    public func overlaps(_ other: IPv4Network) -> Bool {
        let shorter = min(prefixLength, other.prefixLength)
        let commonMask: UInt32 = shorter == 0 ? 0 : UInt32.max << (32 - UInt32(shorter))
        return address.value & commonMask == other.address.value & commonMask
    }

    /// Same prefix, different address: "gateway/16" from "subnet/16".
    public func with(address: IPv4Address) -> IPv4Network {
        IPv4Network(uncheckedAddress: address, prefixLength: prefixLength)
    }

    init(uncheckedAddress: IPv4Address, prefixLength: Int) {
        address = uncheckedAddress
        self.prefixLength = prefixLength
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// An IPv6 prefix such as fd00:1::/64.
public struct IPv6Network: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv6Address
    public var prefixLength: Int

    public init?(address: IPv6Address, prefixLength: Int) {
        guard (0...128).contains(prefixLength) else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv6Address(parts[0]),
              (1...3).contains(parts[1].count), parts[1].allSatisfy(\.isNumber), let length = Int(parts[1]) else { return nil }
        self.init(address: address, prefixLength: length)
    }

    private static func masks(_ length: Int) -> (UInt64, UInt64) {
        let highMask: UInt64 = length >= 64 ? .max : (length == 0 ? 0 : .max << UInt64(64 - length))
        let lowMask: UInt64 = length <= 64 ? 0 : (length >= 128 ? .max : .max << UInt64(128 - length))
        return (highMask, lowMask)
    }

    public var networkAddress: IPv6Address {
        let (h, l) = Self.masks(prefixLength)
        return IPv6Address(high: address.high & h, low: address.low & l)
    }

    public var canonical: IPv6Network { IPv6Network(unchecked: networkAddress, prefixLength) }
    public var isCanonical: Bool { address == networkAddress }

    public func contains(_ other: IPv6Address) -> Bool {
        let (h, l) = Self.masks(prefixLength)
        return other.high & h == address.high & h && other.low & l == address.low & l
    }

    public func overlaps(_ other: IPv6Network) -> Bool {
        let (h, l) = Self.masks(min(prefixLength, other.prefixLength))
        return address.high & h == other.address.high & h && address.low & l == other.address.low & l
    }

    public func with(address: IPv6Address) -> IPv6Network { IPv6Network(unchecked: address, prefixLength) }

    init(unchecked address: IPv6Address, _ prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

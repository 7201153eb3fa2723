import BerthCore

/// A prefix of either family.
public enum IPPrefix: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Network)
    case v6(IPv6Network)

    public func overlaps(_ other: IPPrefix) -> Bool {
        switch (self, other) {
        case (.v4(let a), .v4(let b)): a.overlaps(b)
        case (.v6(let a), .v6(let b)): a.overlaps(b)
        default: false
        }
    }

    public var description: String {
        switch self {
        case .v4(let prefix): prefix.description
        case .v6(let prefix): prefix.description
        }
    }
}

/// A prefix something else already holds, what it is ("address", "route", "subnet") and
/// whose: "host interface eth0", "network app".
public struct PrefixInUse: Sendable {
    public var prefix: IPPrefix
    public var kind: String
    public var owner: String

    public init(prefix: IPPrefix, kind: String, owner: String) {
        self.prefix = prefix
        self.kind = kind
        self.owner = owner
    }
}

/// The one place every address a user gives berth is checked (`--subnet`, `--gateway`,
/// `--ip-range`, `--aux-address`, `--ip`/`--ip6`, `berthd --bip`), before anything
/// changes. Each failure is one line naming the field and the reason. Nothing here does
/// arithmetic that input can make trap.
public enum AddressValidation {
    /// Blocks no network may take: the kernel gives them meanings of their own.
    static let specialIPv4: [(IPv4Network, String)] = [
        (IPv4Network(address: IPv4Address(0, 0, 0, 0), prefixLength: 8), "unspecified (0.0.0.0/8, \"this network\")"),
        (IPv4Network(address: IPv4Address(127, 0, 0, 0), prefixLength: 8), "loopback (127.0.0.0/8)"),
        (IPv4Network(address: IPv4Address(169, 254, 0, 0), prefixLength: 16), "link-local (169.254.0.0/16)"),
        (IPv4Network(address: IPv4Address(224, 0, 0, 0), prefixLength: 4), "multicast (224.0.0.0/4)"),
        (IPv4Network(address: IPv4Address(240, 0, 0, 0), prefixLength: 4), "reserved (240.0.0.0/4, with the broadcast address)"),
    ].compactMap { prefix, reason in prefix.map { ($0, reason) } }

    static let specialIPv6: [(IPv6Network, String)] = [
        ("::/128", "unspecified (::)"), ("::1/128", "loopback (::1)"), ("::ffff:0:0/96", "IPv4-mapped (::ffff:0:0/96)"),
        ("fe80::/10", "link-local (fe80::/10)"), ("ff00::/8", "multicast (ff00::/8)"),
    ].compactMap { text, reason in IPv6Network(text).map { ($0, reason) } }

    /// The widest and narrowest IPv4 subnets: the allocator's bitmap covers at most a /8,
    /// and a network needs a network address, a gateway, a host and a broadcast address.
    public static let widestIPv4 = 8
    public static let narrowestIPv4 = 30
    /// The gateway and at least one host besides the subnet-router address.
    public static let narrowestIPv6 = 124

    // MARK: subnets

    public static func subnet4(_ text: String, field: String = "subnet") throws(BerthError) -> IPv4Network {
        guard let parsed = IPv4Network(text) else { throw .invalid("invalid \(field) \(text): not an IPv4 CIDR") }
        guard parsed.isCanonical else {
            throw .invalid("invalid \(field) \(text): host bits are set, did you mean \(parsed.canonical)?")
        }
        try checkSize4(parsed, field: field, text: text)
        try checkSpecial4(parsed, field: field, text: text)
        return parsed
    }

    public static func subnet6(_ text: String, field: String = "subnet") throws(BerthError) -> IPv6Network {
        guard let parsed = IPv6Network(text) else { throw .invalid("invalid \(field) \(text): not an IPv6 CIDR") }
        guard parsed.isCanonical else {
            throw .invalid("invalid \(field) \(text): host bits are set, did you mean \(parsed.canonical)?")
        }
        if let (_, reason) = specialIPv6.first(where: { $0.0.overlaps(parsed) }) {
            throw .invalid("invalid \(field) \(text): it overlaps the \(reason) range")
        }
        guard parsed.prefixLength <= narrowestIPv6 else {
            throw .invalid("invalid \(field) \(text): too small, an IPv6 network needs at least a /\(narrowestIPv6)")
        }
        return parsed
    }

    /// `berthd --bip`: the default bridge's gateway address with its prefix.
    public static func bridgeIP(_ text: String, field: String = "--bip") throws(BerthError) -> IPv4Network {
        guard let parsed = IPv4Network(text) else {
            throw .invalid("invalid \(field) \(text): not a gateway address with a prefix, e.g. 172.17.0.1/16")
        }
        try checkSize4(parsed, field: field, text: text)
        try checkSpecial4(parsed.canonical, field: field, text: text)
        _ = try hostAddress4(parsed.address, in: parsed.canonical, field: field)
        return parsed
    }

    /// Refuses a prefix that overlaps one in use, naming who holds it (409).
    public static func checkFree(_ prefix: IPPrefix, field: String = "subnet", inUse: [PrefixInUse]) throws(BerthError) {
        guard let clash = inUse.first(where: { $0.prefix.overlaps(prefix) }) else { return }
        throw .conflict("\(field) \(prefix) overlaps \(clash.kind) \(clash.prefix) of \(clash.owner)")
    }

    private static func checkSize4(_ prefix: IPv4Network, field: String, text: String) throws(BerthError) {
        guard prefix.prefixLength <= narrowestIPv4 else {
            throw .invalid("invalid \(field) \(text): too small, a network needs at least a /\(narrowestIPv4) (a gateway and a host)")
        }
        guard prefix.prefixLength >= widestIPv4 else {
            throw .invalid("invalid \(field) \(text): too large, at most a /\(widestIPv4) is supported")
        }
    }

    private static func checkSpecial4(_ prefix: IPv4Network, field: String, text: String) throws(BerthError) {
        if let (_, reason) = specialIPv4.first(where: { $0.0.overlaps(prefix) }) {
            throw .invalid("invalid \(field) \(text): it overlaps the \(reason) range")
        }
    }

    // MARK: addresses inside a subnet

    /// An address of `subnet` a host may hold: inside, not its network or broadcast address.
    public static func hostAddress4(_ address: IPv4Address, in subnet: IPv4Network, field: String) throws(BerthError) -> IPv4Address {
        guard subnet.contains(address) else { throw .invalid("invalid \(field) \(address): not in subnet \(subnet)") }
        guard address != subnet.networkAddress else {
            throw .invalid("invalid \(field) \(address): it is the network address of \(subnet)")
        }
        guard address != subnet.broadcast else {
            throw .invalid("invalid \(field) \(address): it is the broadcast address of \(subnet)")
        }
        return address
    }

    public static func hostAddress6(_ address: IPv6Address, in subnet: IPv6Network, field: String) throws(BerthError) -> IPv6Address {
        guard subnet.contains(address) else { throw .invalid("invalid \(field) \(address): not in subnet \(subnet)") }
        guard address != subnet.networkAddress else {
            throw .invalid("invalid \(field) \(address): it is the network address of \(subnet)")
        }
        return address
    }

    public static func gateway4(_ text: String, in subnet: IPv4Network, field: String = "gateway") throws(BerthError) -> IPv4Address {
        guard let parsed = IPv4Address(text) else { throw .invalid("invalid \(field) \(text): not an IPv4 address") }
        return try hostAddress4(parsed, in: subnet, field: field)
    }

    public static func gateway6(_ text: String, in subnet: IPv6Network, field: String = "gateway") throws(BerthError) -> IPv6Address {
        guard let parsed = IPv6Address(text) else { throw .invalid("invalid \(field) \(text): not an IPv6 address") }
        return try hostAddress6(parsed, in: subnet, field: field)
    }

    /// The first host address, the default gateway; nil cannot happen for a subnet that
    /// passed `subnet4`, and is an error rather than a trap for one that did not.
    public static func firstHost(of subnet: IPv4Network) throws(BerthError) -> IPv4Address {
        guard let address = subnet.networkAddress.advanced(by: 1), subnet.contains(address), address != subnet.broadcast else {
            throw .invalid("subnet \(subnet) has no room for a gateway")
        }
        return address
    }

    public static func firstHost(of subnet: IPv6Network) throws(BerthError) -> IPv6Address {
        guard let address = subnet.networkAddress.advanced(by: 1), subnet.contains(address) else {
            throw .invalid("subnet \(subnet) has no room for a gateway")
        }
        return address
    }

    /// `--ip-range`: a canonical prefix inside the subnet with at least one address left
    /// once the network and broadcast addresses are taken out.
    public static func range4(_ text: String, in subnet: IPv4Network, field: String = "ip-range") throws(BerthError) -> IPv4Network {
        guard let parsed = IPv4Network(text) else { throw .invalid("invalid \(field) \(text): not an IPv4 CIDR") }
        guard parsed.isCanonical else {
            throw .invalid("invalid \(field) \(text): host bits are set, did you mean \(parsed.canonical)?")
        }
        guard subnet.contains(parsed.address), parsed.prefixLength >= subnet.prefixLength else {
            throw .invalid("invalid \(field) \(text): not inside subnet \(subnet)")
        }
        // At most 2^32 addresses: no overflow in 64 bits.
        let usable = Int64(parsed.size) - (parsed.contains(subnet.networkAddress) ? 1 : 0)
            - (parsed.contains(subnet.broadcast) ? 1 : 0)
        guard usable > 0 else { throw .invalid("invalid \(field) \(text): no usable address in subnet \(subnet)") }
        return parsed
    }

    public static func auxiliary4(name: String, value: String, in subnet: IPv4Network, field: String = "aux-address") throws(BerthError) -> IPv4Address {
        guard let parsed = IPv4Address(value) else { throw .invalid("invalid \(field) \(name)=\(value): not an IPv4 address") }
        return try hostAddress4(parsed, in: subnet, field: "\(field) \(name)=")
    }

    // MARK: static addresses (--ip, --ip6)

    public static let userSubnetRequired =
        "user specified IP address is supported only when connecting to networks with user configured subnets"

    /// A container's `--ip`: parsed, on a network whose subnet the user chose (as Docker
    /// asks), a host address of it and not its gateway.
    public static func staticAddress4(_ text: String, subnet: IPv4Network?, gateway: IPv4Address?, userSubnet: Bool,
                                      field: String = "--ip") throws(BerthError) -> IPv4Address {
        guard let parsed = IPv4Address(text) else { throw .invalid("invalid \(field) \(text): not an IPv4 address") }
        guard userSubnet else { throw .invalid(userSubnetRequired) }
        guard let subnet, subnet.contains(parsed) else {
            throw .invalid("invalid \(field) \(parsed): it does not belong to any of this network's subnets (\(subnet?.description ?? "none"))")
        }
        _ = try hostAddress4(parsed, in: subnet, field: field)
        guard parsed != gateway else { throw .invalid("invalid \(field) \(parsed): it is the network's gateway") }
        return parsed
    }

    public static func staticAddress6(_ text: String, subnet: IPv6Network?, gateway: IPv6Address?, userSubnet: Bool,
                                      network: String, field: String = "--ip6") throws(BerthError) -> IPv6Address {
        guard let parsed = IPv6Address(text) else { throw .invalid("invalid \(field) \(text): not an IPv6 address") }
        guard userSubnet else { throw .invalid(userSubnetRequired) }
        guard let subnet, subnet.contains(parsed) else {
            throw .invalid("invalid \(field) \(parsed): network \(network) has no IPv6 subnet containing it")
        }
        _ = try hostAddress6(parsed, in: subnet, field: field)
        guard parsed != gateway else { throw .invalid("invalid \(field) \(parsed): it is the network's gateway") }
        return parsed
    }
}

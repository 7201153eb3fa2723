import BerthCore

/// One container interface whose traffic must carry its own identity: the host end of its
/// veth (the bridge port frames from the container enter by), its MAC and its addresses.
public struct GuardedEndpoint: Sendable, Hashable {
    /// The bridge port: the host end of the container's veth.
    public var port: String
    public var mac: MACAddress
    public var ipv4: IPv4Address?
    /// The global address; with it the container also speaks from its link-local one.
    public var ipv6: IPv6Address?
    /// The network namespace file of the bridge the port is on (an overlay's); nil for
    /// berthd's own namespace.
    public var namespace: String?

    public init(port: String, mac: MACAddress, ipv4: IPv4Address?, ipv6: IPv6Address?, namespace: String? = nil) {
        self.port = port
        self.mac = mac
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.namespace = namespace
    }

    /// The link-local address the kernel gives the container's end: EUI-64 of its MAC
    /// (berth sets the MAC before that end first comes up with IPv6 on, and a fresh
    /// namespace keeps the kernel's default `addr_gen_mode`).
    public var linkLocal: IPv6Address? {
        guard ipv6 != nil, mac.bytes.count == 6 else { return nil }
        let b = mac.bytes
        let interfaceID = [b[0] ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]]
            .reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        return IPv6Address(high: 0xfe80_0000_0000_0000, low: interfaceID)
    }

    /// Every IPv6 address it may send from: global and link-local.
    var ipv6Addresses: [IPv6Address] {
        guard let ipv6 else { return [] }
        return [ipv6] + (linkLocal.map { [$0] } ?? [])
    }
}

/// Anti-spoofing in berth's `bridge berth` table: a frame entering the bridge from a
/// guarded port must carry that port's MAC, and its IPv4/IPv6 source, ARP sender and
/// neighbour advertisement target must be the port's own addresses; anything else from
/// a guarded port is dropped.
///
/// Why here: the hook is the bridge's prerouting, which runs before the bridge learns the
/// frame's source MAC (br_handle_frame_finish) and before it is delivered anywhere, so a
/// forged frame can neither reach a sibling nor move the sibling's forwarding entry to the
/// forger's port. The rules are fixed; ports and their identities are elements of sets
/// keyed by the port's name, so guarding a container is one transaction adding elements,
/// at the same cost however many containers there are. Static fdb entries and locked or
/// non-learning ports would stop MAC moves only, and cost a netlink change per port on
/// the start path plus flooding for unknown destinations; they check no IP, ARP or ND.
public enum SpoofGuard {
    static let table = "bridge \(Ruleset.table)"

    /// The sets, the base chain and the check chains, inside `table bridge berth { }`.
    static func tableBody(_ endpoints: [GuardedEndpoint]) -> [String] {
        let sorted = endpoints.sorted { $0.port < $1.port }
        var lines: [String] = []
        for set in GuardSet.allCases {
            lines.append("\tset \(set.rawValue) {")
            lines.append("\t\t\(set.declaration)")
            let elements = sorted.flatMap { set.elements(of: $0) }
            if !elements.isEmpty { lines.append("\t\telements = { \(elements.joined(separator: ", ")) }") }
            lines.append("\t}")
        }
        lines += [
            "\tchain prerouting {",
            "\t\ttype filter hook prerouting priority filter; policy accept;",
            // The bulk of it first: an honest IPv4 packet from a guarded port is done in
            // one lookup (the same check as guard_ip4's) instead of three.
            "\t\tether type ip iifname . ether saddr . ip saddr @port_ip4 accept",
            "\t\tiifname @guarded_ports jump guard_port",
            "\t}",
            // Only IPv4, ARP and IPv6: a VLAN tag or another protocol could carry a
            // forged identity past these checks. `goto`, not `jump`: a frame that passes
            // its family's chain must not come back here to the drop below.
            "\tchain guard_port {",
            "\t\tether type vmap { ip : goto guard_ip4, arp : goto guard_arp, ip6 : goto guard_ip6 }",
            "\t\tdrop",
            "\t}",
            // MAC and address in one lookup: the data path pays one per packet.
            "\tchain guard_ip4 {",
            "\t\tiifname . ether saddr . ip saddr != @port_ip4 drop",
            "\t}",
            "\tchain guard_arp {",
            "\t\tarp hlen != 6 drop",
            "\t\tarp plen != 4 drop",
            "\t\tiifname . ether saddr != @port_mac drop",
            "\t\tiifname . arp saddr ether != @port_mac drop",
            // An address probe (RFC 5227) claims nothing: its sender address is 0.0.0.0.
            "\t\tarp saddr ip 0.0.0.0 return",
            "\t\tiifname . ether saddr . arp saddr ip != @port_ip4 drop",
            "\t}",
            "\tchain guard_ip6 {",
            // Before an address is usable the kernel sends duplicate address detection
            // and multicast listener reports from the unspecified address.
            "\t\tip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld-listener-report, mld2-listener-report } iifname . ether saddr @port_mac return",
            "\t\tiifname . ether saddr . ip6 saddr != @port_ip6 drop",
            // nft 1.0.6 has no `icmpv6 taddr`: the target is the 16 bytes after the
            // ICMPv6 header's first 8, the first option (source/target link-layer
            // address, length 1) right after it.
            "\t\ticmpv6 type nd-neighbor-advert iifname . @th,64,128 != @port_nd_target drop",
            "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } @th,192,16 { 0x0101, 0x0201 } iifname . @th,208,48 != @port_lladdr drop",
            "\t}",
        ]
        return lines
    }

    /// Adds endpoints' elements in one transaction.
    public static func add(_ endpoints: [GuardedEndpoint]) -> String {
        elements(endpoints, verb: "add")
    }

    /// Removes endpoints' elements in one transaction (each must be there).
    public static func remove(_ endpoints: [GuardedEndpoint]) -> String {
        elements(endpoints, verb: "delete")
    }

    private static func elements(_ endpoints: [GuardedEndpoint], verb: String) -> String {
        let sorted = endpoints.sorted { $0.port < $1.port }
        return GuardSet.allCases.compactMap { set in
            let elements = sorted.flatMap { set.elements(of: $0) }
            return elements.isEmpty ? nil : "\(verb) element \(table) \(set.rawValue) { \(elements.joined(separator: ", ")) }\n"
        }.joined()
    }
}

/// The guard's sets: which ports are guarded, and what each may claim.
enum GuardSet: String, CaseIterable {
    case guardedPorts = "guarded_ports"
    case portMAC = "port_mac"
    case portIPv4 = "port_ip4"
    case portIPv6 = "port_ip6"
    /// The IPv6 addresses again, as the raw 128-bit integers a neighbour advertisement's
    /// target is read as (big-endian, as nft reads payload).
    case portNDTarget = "port_nd_target"
    /// The MAC as the raw 48-bit integer of a neighbour discovery link-layer option.
    case portLinkLayer = "port_lladdr"

    var declaration: String {
        switch self {
        case .guardedPorts: "type ifname"
        case .portMAC: "type ifname . ether_addr"
        case .portIPv4: "type ifname . ether_addr . ipv4_addr"
        case .portIPv6: "type ifname . ether_addr . ipv6_addr"
        case .portNDTarget: "typeof iifname . @th,64,128"
        case .portLinkLayer: "typeof iifname . @th,208,48"
        }
    }

    func elements(of endpoint: GuardedEndpoint) -> [String] {
        let port = Ruleset.quoted(endpoint.port)
        switch self {
        case .guardedPorts: return [port]
        case .portMAC: return ["\(port) . \(endpoint.mac)"]
        case .portIPv4: return endpoint.ipv4.map { ["\(port) . \(endpoint.mac) . \($0)"] } ?? []
        case .portIPv6: return endpoint.ipv6Addresses.map { "\(port) . \(endpoint.mac) . \($0)" }
        case .portNDTarget:
            return endpoint.ipv6Addresses.map { "\(port) . 0x\(Self.hex($0.high, digits: 16))\(Self.hex($0.low, digits: 16))" }
        case .portLinkLayer:
            let value = endpoint.mac.bytes.reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
            return ["\(port) . 0x\(Self.hex(value, digits: 12))"]
        }
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

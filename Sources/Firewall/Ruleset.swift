import BerthCore

/// berth's nftables rules as text in the nft language, rendered from the desired state.
///
/// One table, `inet berth`, holds everything, so other tables (firewalld, ufw, Docker's)
/// are never touched and removing berth's rules is deleting one table. The base chains
/// are fixed; what varies with networks and containers lives in sets and maps, so adding
/// a network or a published port is adding set elements: constant cost however many
/// there are, and no rule handles to track.
public enum Ruleset {
    public static let family = "inet"
    public static let table = "berth"
    static let qualified = "\(family) \(table)"

    /// The interface group of container ports on networks with inter-container traffic
    /// off (icc=false): frames between two such ports are dropped on the bridge. A group
    /// is set when the veth is made, so this costs no rule change per container.
    public static let isolatedPortGroup: UInt32 = 0x6265_7274  // "bert"

    /// The packet mark bit set on DNATed connections (published ports), both directions.
    /// The policy routing layer (Drivers' IsolationRules) lets packets with it pass
    /// between networks: a published port stays reachable from another network. Only
    /// this bit is set; other bits of the mark are kept.
    public static let publishedMark: UInt32 = 0x0200_0000

    /// Options that change the fixed rules.
    public struct Options: Sendable, Hashable {
        /// Whether bridged frames pass the IP hooks (br_netfilter's bridge-nf-call-iptables).
        ///
        /// On: traffic between containers of one network is seen by the inet table
        /// (entering and leaving the same bridge), so icc=false is a rule there, and a
        /// container reaching a sibling's published port through the host has the reply
        /// translated back on the bridge: the server sees the client's real address.
        ///
        /// Off: the IP hooks never see bridged frames. icc=false is enforced in a bridge
        /// table on the ports' interface group, and hairpin connections are masqueraded,
        /// or the sibling would answer the container directly, past the reverse NAT.
        public var bridgeNetfilter: Bool
        /// Cluster mode: the VXLAN UDP port. Tunnel packets between this node's address and
        /// the others' skip connection tracking: NAT never applies to them, and tracking
        /// every packet of every overlay flow would cost throughput for nothing.
        public var overlayTunnel: (local: IPv4Address, port: UInt16)?

        public init(bridgeNetfilter: Bool, overlayTunnel: (local: IPv4Address, port: UInt16)? = nil) {
            self.bridgeNetfilter = bridgeNetfilter
            self.overlayTunnel = overlayTunnel
        }

        public static func == (lhs: Options, rhs: Options) -> Bool {
            lhs.bridgeNetfilter == rhs.bridgeNetfilter && lhs.overlayTunnel?.local == rhs.overlayTunnel?.local
                && lhs.overlayTunnel?.port == rhs.overlayTunnel?.port
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(bridgeNetfilter)
            hasher.combine(overlayTunnel?.local)
            hasher.combine(overlayTunnel?.port)
        }
    }

    /// The whole table, replacing whatever is there, as one transaction.
    public static func full(networks: [FirewallNetwork], ports: [PortMapping], options: Options,
                            remoteContainers: Set<IPv4Address> = [], guarded: [GuardedEndpoint] = []) -> String {
        let sortedNetworks = networks.sorted { $0.bridge < $1.bridge }
        let bridges = sortedNetworks.map { quoted($0.bridge) }
        let ownPairs = sortedNetworks.map { "\(quoted($0.bridge)) . \(quoted($0.bridge))" }
        let masquerading = sortedNetworks.filter(\.masquerade).map { quoted($0.bridge) }
        let internalBridges = sortedNetworks.filter(\.isInternal).map { quoted($0.bridge) }
        let isolatedBridges = sortedNetworks.filter(\.isolated).map { quoted($0.bridge) }
        let groups = PortGroups(ports)
        let group = "0x" + String(isolatedPortGroup, radix: 16)
        let markHex = String(publishedMark, radix: 16)
        let markText = "0x" + String(repeating: "0", count: max(0, 8 - markHex.count)) + markHex

        var lines: [String] = []
        // `add` then `delete` makes the delete valid whether or not the table exists.
        lines.append("add table \(qualified)")
        lines.append("delete table \(qualified)")
        lines.append("table \(qualified) {")
        lines += setBlock("bridges", type: "ifname", elements: bridges)
        lines += setBlock("own_bridge", type: "ifname . ifname", elements: ownPairs)
        lines += setBlock("masquerade_bridges", type: "ifname", elements: masquerading)
        lines += setBlock("internal_bridges", type: "ifname", elements: internalBridges)
        lines += setBlock("isolated_bridges", type: "ifname", elements: isolatedBridges)
        for map in PortMap.allCases {
            lines += mapBlock(map, elements: groups[map].map(\.element))
        }
        lines += [
            "\tchain published {",
        ] + PortMap.allCases.map { "\t\t\($0.rule)" } + [
            "\t}",
            // Only traffic for the host's own addresses is published: not traffic passing through.
            "\tchain prerouting {",
            "\t\ttype nat hook prerouting priority dstnat; policy accept;",
            "\t\tfib daddr type local jump published",
            "\t}",
            // After DNAT, before the routing decision: see `publishedMark`.
            "\tchain mark_published {",
            "\t\ttype filter hook prerouting priority -90; policy accept;",
            "\t\tct status dnat meta mark set meta mark | \(markText)",
            "\t}",
            // The host itself reaching a published port (127.0.0.1 or its own address).
            "\tchain output {",
            "\t\ttype nat hook output priority -100; policy accept;",
            "\t\tfib daddr type local jump published",
            "\t}",
            "\tchain postrouting {",
            "\t\ttype nat hook postrouting priority srcnat; policy accept;",
        ]
        if !options.bridgeNetfilter {
            lines.append("\t\tct status dnat iifname . oifname @own_bridge masquerade")
        }
        lines += [
            // Connections from 127.0.0.1 to a container need a source the container can answer.
            "\t\toifname @bridges ip saddr 127.0.0.0/8 masquerade",
            "\t\tiifname @masquerade_bridges oifname != @bridges masquerade",
            "\t}",
        ]
        if let tunnel = options.overlayTunnel {
            // Containers of other nodes: frames to and from them are only ever bridged
            // between a local container and the VXLAN device (no NAT can apply: they are
            // never a host address nor a published port's target), so they skip
            // connection tracking too. Local containers' own traffic stays tracked: a
            // hairpin reply must still be translated back.
            lines += setBlock("overlay_remote", type: "ipv4_addr",
                              elements: remoteContainers.sorted { $0.value < $1.value }.map(\.description))
            lines += [
                "\tchain tunnel_in {",
                "\t\ttype filter hook prerouting priority raw; policy accept;",
                "\t\tip daddr \(tunnel.local) udp dport \(tunnel.port) notrack",
                "\t\tip daddr @overlay_remote notrack",
                "\t\tip saddr @overlay_remote notrack",
                "\t}",
                "\tchain tunnel_out {",
                "\t\ttype filter hook output priority raw; policy accept;",
                "\t\tip saddr \(tunnel.local) udp dport \(tunnel.port) notrack",
                "\t}",
            ]
        }
        lines += [
            "\tchain forward {",
            "\t\ttype filter hook forward priority filter; policy accept;",
            // The bulk of it, checked first: bridged traffic (through br_netfilter) and
            // hairpin within one network whose containers may talk.
            "\t\tiifname . oifname @own_bridge iifname != @isolated_bridges accept",
            // icc=false, for bridged traffic seen through br_netfilter; a published
            // port reached through the host stays reachable.
            "\t\tiifname @isolated_bridges oifname @isolated_bridges ct status dnat accept",
            "\t\tiifname @isolated_bridges oifname @isolated_bridges drop",
            // Bridged traffic seen through br_netfilter, and hairpin: within one network.
            "\t\tiifname . oifname @own_bridge accept",
            "\t\tiifname @internal_bridges drop",
            "\t\toifname @internal_bridges drop",
            "\t\tct state established,related accept",
            "\t\tct status dnat accept",
            // Networks are walled off from each other, and from routed traffic that
            // was not published.
            "\t\tiifname @bridges oifname @bridges drop",
            "\t\toifname @bridges drop",
            "\t}",
            "}",
            // The bridge table is replaced whole too: it always holds the anti-spoofing
            // guard (see `SpoofGuard`), and icc=false's rule without br_netfilter.
            "add table bridge \(table)",
            "delete table bridge \(table)",
            "table bridge \(table) {",
        ]
        lines += SpoofGuard.tableBody(guarded)
        if !options.bridgeNetfilter {
            // Without br_netfilter, icc=false is enforced where frames are forwarded
            // between ports. Hairpin traffic goes through the host, not port to port.
            lines += [
                "\tchain forward {",
                "\t\ttype filter hook forward priority filter; policy accept;",
                "\t\tmeta iifgroup \(group) meta oifgroup \(group) drop",
                "\t}",
            ]
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Removes berth's table (berthd --cleanup).
    public static func removeAll() -> String {
        "add table \(qualified)\ndelete table \(qualified)\nadd table bridge \(table)\ndelete table bridge \(table)\n"
    }

    public static func addNetwork(_ network: FirewallNetwork) -> String {
        networkElements(network, verb: "add")
    }

    public static func removeNetwork(_ network: FirewallNetwork) -> String {
        networkElements(network, verb: "delete")
    }

    /// Adds and removes containers of other nodes in one transaction (cluster mode only).
    public static func updateRemoteContainers(adding: [IPv4Address], removing: [IPv4Address]) -> String {
        var script = ""
        if !removing.isEmpty {
            script += "delete element \(qualified) overlay_remote { \(removing.map(\.description).joined(separator: ", ")) }\n"
        }
        if !adding.isEmpty {
            script += "add element \(qualified) overlay_remote { \(adding.map(\.description).joined(separator: ", ")) }\n"
        }
        return script
    }

    public static func addPorts(_ ports: [PortMapping]) -> String {
        PortGroups(ports).commands { map, mappings in
            "add element \(qualified) \(map.rawValue) { \(mappings.map(\.element).joined(separator: ", ")) }"
        }
    }

    public static func removePorts(_ ports: [PortMapping]) -> String {
        PortGroups(ports).commands { map, mappings in
            "delete element \(qualified) \(map.rawValue) { \(mappings.map(\.key).joined(separator: ", ")) }"
        }
    }

    private static func networkElements(_ network: FirewallNetwork, verb: String) -> String {
        let bridge = quoted(network.bridge)
        var lines = [
            "\(verb) element \(qualified) bridges { \(bridge) }",
            "\(verb) element \(qualified) own_bridge { \(bridge) . \(bridge) }",
        ]
        if network.masquerade { lines.append("\(verb) element \(qualified) masquerade_bridges { \(bridge) }") }
        if network.isInternal { lines.append("\(verb) element \(qualified) internal_bridges { \(bridge) }") }
        if network.isolated { lines.append("\(verb) element \(qualified) isolated_bridges { \(bridge) }") }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func setBlock(_ name: String, type: String, elements: [String]) -> [String] {
        var lines = ["\tset \(name) {", "\t\ttype \(type)"]
        if !elements.isEmpty { lines.append("\t\telements = { \(elements.joined(separator: ", ")) }") }
        lines.append("\t}")
        return lines
    }

    private static func mapBlock(_ map: PortMap, elements: [String]) -> [String] {
        var lines = ["\tmap \(map.rawValue) {", "\t\ttype \(map.type)"]
        if !elements.isEmpty { lines.append("\t\telements = { \(elements.joined(separator: ", ")) }") }
        lines.append("\t}")
        return lines
    }

    /// Interface names are at most 15 bytes of [A-Za-z0-9._-] in berth; quoting keeps
    /// nft from reading one as a keyword.
    static func quoted(_ name: String) -> String { "\"\(name)\"" }
}

/// The four maps published ports live in: by family, and by whether a host address is given.
enum PortMap: String, CaseIterable {
    case published4, published4Any = "published4_any", published6, published6Any = "published6_any"

    var type: String {
        switch self {
        case .published4: "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service"
        case .published4Any: "inet_proto . inet_service : ipv4_addr . inet_service"
        case .published6: "ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service"
        case .published6Any: "inet_proto . inet_service : ipv6_addr . inet_service"
        }
    }

    /// The DNAT rule reading the map. A key not in the map ends the rule, not the chain.
    var rule: String {
        switch self {
        case .published4: "dnat ip to ip daddr . meta l4proto . th dport map @\(rawValue)"
        case .published4Any: "dnat ip to meta l4proto . th dport map @\(rawValue)"
        case .published6: "dnat ip6 to ip6 daddr . meta l4proto . th dport map @\(rawValue)"
        case .published6Any: "dnat ip6 to meta l4proto . th dport map @\(rawValue)"
        }
    }

    init(_ mapping: PortMapping) {
        switch (mapping.isIPv6, mapping.hostIP == nil) {
        case (false, false): self = .published4
        case (false, true): self = .published4Any
        case (true, false): self = .published6
        case (true, true): self = .published6Any
        }
    }
}

/// Mappings sorted into their maps, in a stable order.
struct PortGroups {
    private var groups: [PortMap: [PortMapping]] = [:]

    init(_ ports: [PortMapping]) {
        for port in ports { groups[PortMap(port), default: []].append(port) }
    }

    subscript(map: PortMap) -> [PortMapping] { groups[map] ?? [] }

    func commands(_ render: (PortMap, [PortMapping]) -> String) -> String {
        PortMap.allCases.compactMap { map in
            let mappings = self[map]
            return mappings.isEmpty ? nil : render(map, mappings)
        }.map { $0 + "\n" }.joined()
    }
}

extension PortMapping {
    /// The map key: [host address .] protocol . port.
    var key: String {
        let base = "\(transport.rawValue) . \(hostPort)"
        return hostIP.map { "\($0) . \(base)" } ?? base
    }

    /// The map element: key : container address . port.
    var element: String { "\(key) : \(containerIP) . \(containerPort)" }
}

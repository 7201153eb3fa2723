import BerthCore

/// berth's nftables rules as text in the nft language, rendered from the desired state.
///
/// One table, `inet berth`, holds everything berth decides, so removing berth's rules is
/// deleting one table. Other tables (ufw's, Docker's, the user's) get only one rule of
/// berth's at the end of their drop-policy chains (`ForeignChains`). The base chains
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

    /// The packet mark bit berth's own chains set on the traffic they accept for its
    /// networks. Other tables' drop-policy chains end in a rule of berth's accepting only
    /// packets with this bit (`ForeignChains`), so a host firewall that drops forwarded
    /// traffic by default lets berth's through, while every rule its user wrote before
    /// that policy still decides first.
    public static let acceptMark: UInt32 = 0x0400_0000

    /// The chain users put their own policy for containers' traffic in (Docker's
    /// DOCKER-USER): berth's forward chain jumps to it first, and berth never writes it.
    public static let userChain = "user"

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
        /// Who decides whether a published port answers traffic from outside.
        public var publishedPorts: PublishedPortsMode

        public init(bridgeNetfilter: Bool, overlayTunnel: (local: IPv4Address, port: UInt16)? = nil,
                    publishedPorts: PublishedPortsMode = .nat) {
            self.bridgeNetfilter = bridgeNetfilter
            self.overlayTunnel = overlayTunnel
            self.publishedPorts = publishedPorts
        }

        public static func == (lhs: Options, rhs: Options) -> Bool {
            lhs.bridgeNetfilter == rhs.bridgeNetfilter && lhs.overlayTunnel?.local == rhs.overlayTunnel?.local
                && lhs.overlayTunnel?.port == rhs.overlayTunnel?.port && lhs.publishedPorts == rhs.publishedPorts
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(bridgeNetfilter)
            hasher.combine(overlayTunnel?.local)
            hasher.combine(overlayTunnel?.port)
            hasher.combine(publishedPorts)
        }
    }

    /// The whole table, replacing whatever berth had there, as one transaction. The
    /// `user` chain is kept as it is (created empty the first time); `existing` lists
    /// what the kernel holds now, so that every other chain and set of the table, from
    /// this version or an older one, is replaced.
    public static func full(networks: [FirewallNetwork], ports: [PortMapping], options: Options,
                            remoteContainers: Set<IPv4Address> = [], existing: TableListing = .init(),
                            guarded: [GuardedEndpoint] = []) -> String {
        let sortedNetworks = networks.sorted { $0.bridge < $1.bridge }
        let bridges = sortedNetworks.map { quoted($0.bridge) }
        let ownPairs = sortedNetworks.map { "\(quoted($0.bridge)) . \(quoted($0.bridge))" }
        let masquerading = sortedNetworks.filter(\.masquerade).map { quoted($0.bridge) }
        let internalBridges = sortedNetworks.filter(\.isInternal).map { quoted($0.bridge) }
        let isolatedBridges = sortedNetworks.filter(\.isolated).map { quoted($0.bridge) }
        let dnsServers = sortedNetworks.compactMap { network in network.dnsServer.map { "\(quoted(network.bridge)) . \($0)" } }
        let groups = PortGroups(ports)
        let group = "0x" + String(isolatedPortGroup, radix: 16)

        var sets: [(name: String, type: String, elements: [String])] = [
            ("bridges", "ifname", bridges),
            ("own_bridge", "ifname . ifname", ownPairs),
            ("masquerade_bridges", "ifname", masquerading),
            ("internal_bridges", "ifname", internalBridges),
            ("isolated_bridges", "ifname", isolatedBridges),
            ("dns_servers", "ifname . ipv4_addr", dnsServers),
        ]
        if options.overlayTunnel != nil {
            sets.append(("overlay_remote", "ipv4_addr", remoteContainers.sorted { $0.value < $1.value }.map(\.description)))
        }
        let maps = PortMap.allCases.map { ($0.rawValue, $0.type, groups[$0].map(\.element)) }

        var lines = replacing(existing, keepingSets: Set(sets.map(\.name) + maps.map(\.0)))
        lines.append("table \(qualified) {")
        lines.append("\tchain \(userChain) {")
        lines.append("\t}")
        for set in sets { lines += setBlock(set.name, type: set.type, elements: set.elements) }
        for map in maps { lines += mapBlock(map.0, type: map.1, elements: map.2) }
        lines += natChains(options)
        if let tunnel = options.overlayTunnel { lines += tunnelChains(tunnel) }
        lines += filterChains(options)
        lines.append("}")
        // The bridge table is replaced whole: it always holds the anti-spoofing guard
        // (see `SpoofGuard`), and icc=false's rule without br_netfilter.
        lines += ["add table bridge \(table)", "delete table bridge \(table)", "table bridge \(table) {"]
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

    /// Empties the table of everything but the user's chain: chains are flushed before
    /// any is deleted (a jump holds its target), sets of this version are flushed and
    /// refilled (a user's rule may name one), others deleted.
    static func replacing(_ existing: TableListing, keepingSets kept: Set<String>) -> [String] {
        var lines = ["add table \(qualified)"]
        let chains = existing.chains.filter { $0 != userChain }.sorted()
        lines += chains.map { "flush chain \(qualified) \($0)" }
        lines += chains.map { "delete chain \(qualified) \($0)" }
        for set in existing.sets.sorted(by: { $0.name < $1.name }) {
            let kind = set.isMap ? "map" : "set"
            lines.append(kept.contains(set.name) ? "flush \(kind) \(qualified) \(set.name)"
                                                  : "delete \(kind) \(qualified) \(set.name)")
        }
        return lines
    }

    private static func natChains(_ options: Options) -> [String] {
        let markText = hex(publishedMark)
        // In host-firewall mode, only containers (hairpin) and the host itself reach
        // published ports by DNAT; traffic from outside goes up the host's input path,
        // where its firewall decides, to berthd's relay.
        let outside = options.publishedPorts == .nat ? "" : "iifname @bridges "
        var lines = ["\tchain published {"] + PortMap.allCases.map { "\t\t\($0.rule)" } + [
            "\t}",
            // Only traffic for the host's own addresses is published: not traffic passing through.
            "\tchain prerouting {",
            "\t\ttype nat hook prerouting priority dstnat; policy accept;",
            "\t\t\(outside)fib daddr type local jump published",
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
        return lines
    }

    /// Containers of other nodes: frames to and from them are only ever bridged between
    /// a local container and the VXLAN device (no NAT can apply: they are never a host
    /// address nor a published port's target), so they skip connection tracking too.
    /// Local containers' own traffic stays tracked: a hairpin reply must still be
    /// translated back.
    private static func tunnelChains(_ tunnel: (local: IPv4Address, port: UInt16)) -> [String] {
        [
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

    /// The forward and input chains. They run before the other tables' filter chains
    /// (priority filter - 10), so the mark berth sets on what it accepts (`allow`) is
    /// there when another table's drop-policy chain reaches berth's rule at its end.
    /// Only traffic of berth's networks is marked: anything else is left to the host's
    /// firewall as if berth were not there.
    private static func filterChains(_ options: Options) -> [String] {
        var lines = [
            "\tchain allow {",
            "\t\tmeta mark set meta mark | \(hex(acceptMark)) accept",
            "\t}",
            "\tchain forward {",
            "\t\ttype filter hook forward priority filter - 10; policy accept;",
            "\t\tjump \(userChain)",
            // The bulk of it, checked first: bridged traffic (through br_netfilter) and
            // hairpin within one network whose containers may talk.
            "\t\tiifname . oifname @own_bridge iifname != @isolated_bridges goto allow",
            // icc=false, for bridged traffic seen through br_netfilter; a published
            // port reached through the host stays reachable.
            "\t\tiifname @isolated_bridges oifname @isolated_bridges ct status dnat goto allow",
            "\t\tiifname @isolated_bridges oifname @isolated_bridges drop",
            // Bridged traffic seen through br_netfilter, and hairpin: within one network.
            "\t\tiifname . oifname @own_bridge goto allow",
            "\t\tiifname @internal_bridges drop",
            "\t\toifname @internal_bridges drop",
            "\t\toifname @bridges ct state established,related goto allow",
            "\t\toifname @bridges ct status dnat goto allow",
            // Networks are walled off from each other, and from routed traffic that
            // was not published.
            "\t\tiifname @bridges oifname @bridges drop",
            "\t\toifname @bridges drop",
            // Containers' own traffic out, and their replies.
            "\t\tiifname @bridges goto allow",
            "\t}",
            "\tchain input {",
            "\t\ttype filter hook input priority filter - 10; policy accept;",
            // Containers asking berthd's DNS server on their gateway.
            "\t\tmeta l4proto { tcp, udp } th dport 53 iifname . ip daddr @dns_servers goto allow",
            // Containers' answers to the host's own connections to published ports.
            "\t\tiifname @bridges ct status dnat ct state established,related goto allow",
            // Containers' IPv6 neighbour discovery of their gateway.
            "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } iifname @bridges goto allow",
        ]
        if let tunnel = options.overlayTunnel {
            // Other nodes' VXLAN packets. A user's own rule for this port, before berth's
            // in their chain, still decides which sources may send them.
            lines.append("\t\tip daddr \(tunnel.local) udp dport \(tunnel.port) goto allow")
        }
        lines.append("\t}")
        return lines
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
        if let server = network.dnsServer { lines.append("\(verb) element \(qualified) dns_servers { \(bridge) . \(server) }") }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func setBlock(_ name: String, type: String, elements: [String]) -> [String] {
        var lines = ["\tset \(name) {", "\t\ttype \(type)"]
        if !elements.isEmpty { lines.append("\t\telements = { \(elements.joined(separator: ", ")) }") }
        lines.append("\t}")
        return lines
    }

    private static func mapBlock(_ name: String, type: String, elements: [String]) -> [String] {
        var lines = ["\tmap \(name) {", "\t\ttype \(type)"]
        if !elements.isEmpty { lines.append("\t\telements = { \(elements.joined(separator: ", ")) }") }
        lines.append("\t}")
        return lines
    }

    /// A mark as nft prints it: eight hex digits.
    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// Interface names are at most 15 bytes of [A-Za-z0-9._-] in berth; quoting keeps
    /// nft from reading one as a keyword.
    static func quoted(_ name: String) -> String { "\"\(name)\"" }
}

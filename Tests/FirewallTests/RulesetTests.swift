import BerthCore
import Testing
@testable import Firewall

@Suite struct RulesetTests {
    let web = PortMapping(hostIP: nil, hostPort: 8080, transport: .tcp, containerIP: .v4(IPv4Address(172, 18, 0, 2)), containerPort: 80)
    let local = PortMapping(hostIP: .v4(IPv4Address(127, 0, 0, 1)), hostPort: 5353, transport: .udp,
                            containerIP: .v4(IPv4Address(172, 18, 0, 3)), containerPort: 53)
    let six = PortMapping(hostIP: IPAddress("fd00::1"), hostPort: 443, transport: .tcp,
                          containerIP: IPAddress("fd00:1::2")!, containerPort: 8443)

    @Test func fullTableHasFixedChainsAndStateInSets() {
        let text = Ruleset.full(
            networks: [FirewallNetwork(bridge: "br-b", masquerade: false, isInternal: true, isolated: true,
                                       dnsServer: IPv4Address(172, 18, 0, 1)),
                       FirewallNetwork(bridge: "berth0", masquerade: true, isInternal: false)],
            ports: [web, local, six], options: .init(bridgeNetfilter: true))
        let expected = """
        add table inet berth
        table inet berth {
        \tchain user {
        \t}
        \tset bridges {
        \t\ttype ifname
        \t\telements = { "berth0", "br-b" }
        \t}
        \tset own_bridge {
        \t\ttype ifname . ifname
        \t\telements = { "berth0" . "berth0", "br-b" . "br-b" }
        \t}
        \tset masquerade_bridges {
        \t\ttype ifname
        \t\telements = { "berth0" }
        \t}
        \tset internal_bridges {
        \t\ttype ifname
        \t\telements = { "br-b" }
        \t}
        \tset isolated_bridges {
        \t\ttype ifname
        \t\telements = { "br-b" }
        \t}
        \tset dns_servers {
        \t\ttype ifname . ipv4_addr
        \t\telements = { "br-b" . 172.18.0.1 }
        \t}
        \tmap published4 {
        \t\ttype ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
        \t\telements = { 127.0.0.1 . udp . 5353 : 172.18.0.3 . 53 }
        \t}
        \tmap published4_any {
        \t\ttype inet_proto . inet_service : ipv4_addr . inet_service
        \t\telements = { tcp . 8080 : 172.18.0.2 . 80 }
        \t}
        \tmap published6 {
        \t\ttype ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service
        \t\telements = { fd00::1 . tcp . 443 : fd00:1::2 . 8443 }
        \t}
        \tmap published6_any {
        \t\ttype inet_proto . inet_service : ipv6_addr . inet_service
        \t}
        \tchain published {
        \t\tdnat ip to ip daddr . meta l4proto . th dport map @published4
        \t\tdnat ip to meta l4proto . th dport map @published4_any
        \t\tdnat ip6 to ip6 daddr . meta l4proto . th dport map @published6
        \t\tdnat ip6 to meta l4proto . th dport map @published6_any
        \t}
        \tchain prerouting {
        \t\ttype nat hook prerouting priority dstnat; policy accept;
        \t\tfib daddr type local jump published
        \t}
        \tchain mark_published {
        \t\ttype filter hook prerouting priority -90; policy accept;
        \t\tct status dnat meta mark set meta mark | 0x02000000
        \t}
        \tchain output {
        \t\ttype nat hook output priority -100; policy accept;
        \t\tfib daddr type local jump published
        \t}
        \tchain postrouting {
        \t\ttype nat hook postrouting priority srcnat; policy accept;
        \t\toifname @bridges ip saddr 127.0.0.0/8 masquerade
        \t\tiifname @masquerade_bridges oifname != @bridges masquerade
        \t}
        \tchain allow {
        \t\tmeta mark set meta mark | 0x04000000 accept
        \t}
        \tchain forward {
        \t\ttype filter hook forward priority filter - 10; policy accept;
        \t\tjump user
        \t\tiifname . oifname @own_bridge iifname != @isolated_bridges goto allow
        \t\tiifname @isolated_bridges oifname @isolated_bridges ct status dnat goto allow
        \t\tiifname @isolated_bridges oifname @isolated_bridges drop
        \t\tiifname . oifname @own_bridge goto allow
        \t\tiifname @internal_bridges drop
        \t\toifname @internal_bridges drop
        \t\toifname @bridges ct state established,related goto allow
        \t\toifname @bridges ct status dnat goto allow
        \t\tiifname @bridges oifname @bridges drop
        \t\toifname @bridges drop
        \t\tiifname @bridges goto allow
        \t}
        \tchain input {
        \t\ttype filter hook input priority filter - 10; policy accept;
        \t\tmeta l4proto { tcp, udp } th dport 53 iifname . ip daddr @dns_servers goto allow
        \t\tiifname @bridges ct status dnat ct state established,related goto allow
        \t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } iifname @bridges goto allow
        \t}
        }
        add table bridge berth
        delete table bridge berth

        """
        #expect(text == expected + SpoofGuardTests.emptyBridgeTable)
    }

    @Test func withoutBridgeNetfilterHairpinIsMasqueradedAndIccIsABridgeRule() {
        let with = Ruleset.full(networks: [], ports: [], options: .init(bridgeNetfilter: false))
        let without = Ruleset.full(networks: [], ports: [], options: .init(bridgeNetfilter: true))
        #expect(with.contains("\t\tct status dnat iifname . oifname @own_bridge masquerade\n"))
        #expect(with.hasSuffix("""
        \t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } @th,192,16 { 0x0101, 0x0201 } iifname . @th,208,48 != @port_lladdr drop
        \t}
        \tchain forward {
        \t\ttype filter hook forward priority filter; policy accept;
        \t\tmeta iifgroup 0x62657274 meta oifgroup 0x62657274 drop
        \t}
        }

        """))
        #expect(!without.contains("ct status dnat iifname . oifname @own_bridge masquerade"))
        #expect(!without.contains("meta iifgroup"))
        // Empty sets carry no elements line (nft rejects an empty `elements = { }`).
        #expect(!without.contains("elements"))
    }

    @Test func clusterModeTunnelPacketsSkipConnectionTracking() {
        let plain = Ruleset.full(networks: [], ports: [], options: .init(bridgeNetfilter: true))
        let cluster = Ruleset.full(networks: [], ports: [], options: .init(
            bridgeNetfilter: true, overlayTunnel: (local: IPv4Address(10, 99, 0, 1), port: 4789)),
            remoteContainers: [IPv4Address(10, 10, 0, 3), IPv4Address(10, 10, 0, 2)])
        #expect(!plain.contains("notrack"))
        #expect(!plain.contains("overlay_remote"))
        #expect(cluster.contains("""
        \tset overlay_remote {
        \t\ttype ipv4_addr
        \t\telements = { 10.10.0.2, 10.10.0.3 }
        \t}

        """))
        // Other nodes' VXLAN packets pass the host's input path.
        #expect(cluster.contains("\t\tip daddr 10.99.0.1 udp dport 4789 goto allow\n"))
        #expect(!plain.contains("udp dport 4789"))
        #expect(cluster.contains("""
        \tchain tunnel_in {
        \t\ttype filter hook prerouting priority raw; policy accept;
        \t\tip daddr 10.99.0.1 udp dport 4789 notrack
        \t\tip daddr @overlay_remote notrack
        \t\tip saddr @overlay_remote notrack
        \t}
        \tchain tunnel_out {
        \t\ttype filter hook output priority raw; policy accept;
        \t\tip saddr 10.99.0.1 udp dport 4789 notrack
        \t}

        """))
    }

    @Test func remoteContainersAreSetElements() {
        #expect(Ruleset.updateRemoteContainers(adding: [IPv4Address(10, 10, 0, 4)], removing: [IPv4Address(10, 10, 0, 2)])
            == "delete element inet berth overlay_remote { 10.10.0.2 }\nadd element inet berth overlay_remote { 10.10.0.4 }\n")
        #expect(Ruleset.updateRemoteContainers(adding: [], removing: []).isEmpty)
    }

    @Test func networkChangesAreElementsOnly() {
        let network = FirewallNetwork(bridge: "br-1234", masquerade: true, isInternal: false)
        #expect(Ruleset.addNetwork(network) == """
        add element inet berth bridges { "br-1234" }
        add element inet berth own_bridge { "br-1234" . "br-1234" }
        add element inet berth masquerade_bridges { "br-1234" }

        """)
        let internalNetwork = FirewallNetwork(bridge: "br-9", masquerade: false, isInternal: true, isolated: true)
        #expect(Ruleset.removeNetwork(internalNetwork) == """
        delete element inet berth bridges { "br-9" }
        delete element inet berth own_bridge { "br-9" . "br-9" }
        delete element inet berth internal_bridges { "br-9" }
        delete element inet berth isolated_bridges { "br-9" }

        """)
    }

    @Test func portChangesGroupByMap() {
        let second = PortMapping(hostIP: nil, hostPort: 8081, transport: .udp, containerIP: .v4(IPv4Address(172, 18, 0, 2)), containerPort: 81)
        #expect(Ruleset.addPorts([web, local, second]) == """
        add element inet berth published4 { 127.0.0.1 . udp . 5353 : 172.18.0.3 . 53 }
        add element inet berth published4_any { tcp . 8080 : 172.18.0.2 . 80, udp . 8081 : 172.18.0.2 . 81 }

        """)
        #expect(Ruleset.removePorts([web, six]) == """
        delete element inet berth published4_any { tcp . 8080 }
        delete element inet berth published6 { fd00::1 . tcp . 443 }

        """)
        #expect(Ruleset.addPorts([]).isEmpty)
    }

    @Test func publishedConnectionsCarryTheIsolationExemptMark() {
        // The policy routing layer lets marked packets (DNATed on purpose) between networks.
        let text = Ruleset.full(networks: [], ports: [], options: .init(bridgeNetfilter: false))
        #expect(text.contains("\t\tct status dnat meta mark set meta mark | 0x02000000\n"))
    }

    @Test func removeAllDeletesOnlyOurTable() {
        #expect(Ruleset.removeAll() == "add table inet berth\ndelete table inet berth\nadd table bridge berth\ndelete table bridge berth\n")
    }

    @Test func nftablesErrorKeepsTheMessage() {
        let text = "/dev/stdin:2:1-30: Error: Could not process rule: No such file or directory\ndelete element ...\n^^^^^\n"
        #expect(Nftables.firstError(text) == "Error: Could not process rule: No such file or directory")
        #expect(Nftables.firstError("") == "unknown error")
    }
}

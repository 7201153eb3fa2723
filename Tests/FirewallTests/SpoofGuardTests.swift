import BerthCore
import Testing
@testable import Firewall

@Suite struct SpoofGuardTests {
    static let mac = MACAddress("02:42:ac:12:00:02")!
    let dual = GuardedEndpoint(port: "veth1234567", mac: mac, ipv4: IPv4Address(172, 18, 0, 2), ipv6: IPv6Address("fd00:1::2"))
    let plain = GuardedEndpoint(port: "veth0abcdef", mac: MACAddress("02:42:ac:11:00:05")!, ipv4: IPv4Address(172, 17, 0, 5), ipv6: nil)

    /// The bridge table `Ruleset.full` ends with when no port is guarded and br_netfilter is on.
    static let emptyBridgeTable = """
    table bridge berth {
    \tset guarded_ports {
    \t\ttype ifname
    \t}
    \tset port_mac {
    \t\ttype ifname . ether_addr
    \t}
    \tset port_ip4 {
    \t\ttype ifname . ether_addr . ipv4_addr
    \t}
    \tset port_ip6 {
    \t\ttype ifname . ether_addr . ipv6_addr
    \t}
    \tset port_nd_target {
    \t\ttypeof iifname . @th,64,128
    \t}
    \tset port_lladdr {
    \t\ttypeof iifname . @th,208,48
    \t}
    \tchain prerouting {
    \t\ttype filter hook prerouting priority filter; policy accept;
    \t\tether type ip iifname . ether saddr . ip saddr @port_ip4 accept
    \t\tiifname @guarded_ports jump guard_port
    \t}
    \tchain guard_port {
    \t\tether type vmap { ip : goto guard_ip4, arp : goto guard_arp, ip6 : goto guard_ip6 }
    \t\tdrop
    \t}
    \tchain guard_ip4 {
    \t\tiifname . ether saddr . ip saddr != @port_ip4 drop
    \t}
    \tchain guard_arp {
    \t\tarp hlen != 6 drop
    \t\tarp plen != 4 drop
    \t\tiifname . ether saddr != @port_mac drop
    \t\tiifname . arp saddr ether != @port_mac drop
    \t\tarp saddr ip 0.0.0.0 return
    \t\tiifname . ether saddr . arp saddr ip != @port_ip4 drop
    \t}
    \tchain guard_ip6 {
    \t\tip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld-listener-report, mld2-listener-report } iifname . ether saddr @port_mac return
    \t\tiifname . ether saddr . ip6 saddr != @port_ip6 drop
    \t\ticmpv6 type nd-neighbor-advert iifname . @th,64,128 != @port_nd_target drop
    \t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } @th,192,16 { 0x0101, 0x0201 } iifname . @th,208,48 != @port_lladdr drop
    \t}
    }

    """

    @Test func linkLocalIsEUI64OfTheMAC() {
        #expect(dual.linkLocal == IPv6Address("fe80::42:acff:fe12:2"))
        #expect(plain.linkLocal == nil)  // no IPv6 on its network: it may send none
    }

    @Test func guardingIsElementsOfFixedSetsInOneTransaction() {
        #expect(SpoofGuard.add([dual, plain]) == """
        add element bridge berth guarded_ports { "veth0abcdef", "veth1234567" }
        add element bridge berth port_mac { "veth0abcdef" . 02:42:ac:11:00:05, "veth1234567" . 02:42:ac:12:00:02 }
        add element bridge berth port_ip4 { "veth0abcdef" . 02:42:ac:11:00:05 . 172.17.0.5, "veth1234567" . 02:42:ac:12:00:02 . 172.18.0.2 }
        add element bridge berth port_ip6 { "veth1234567" . 02:42:ac:12:00:02 . fd00:1::2, "veth1234567" . 02:42:ac:12:00:02 . fe80::42:acff:fe12:2 }
        add element bridge berth port_nd_target { "veth1234567" . 0xfd000001000000000000000000000002, "veth1234567" . 0xfe800000000000000042acfffe120002 }
        add element bridge berth port_lladdr { "veth0abcdef" . 0x0242ac110005, "veth1234567" . 0x0242ac120002 }

        """)
        #expect(SpoofGuard.remove([plain]) == """
        delete element bridge berth guarded_ports { "veth0abcdef" }
        delete element bridge berth port_mac { "veth0abcdef" . 02:42:ac:11:00:05 }
        delete element bridge berth port_ip4 { "veth0abcdef" . 02:42:ac:11:00:05 . 172.17.0.5 }
        delete element bridge berth port_lladdr { "veth0abcdef" . 0x0242ac110005 }

        """)
        #expect(SpoofGuard.add([]).isEmpty)
    }

    /// The raw batch's keys have the layout nft gives the same elements: the name in 16
    /// bytes, each field padded to 4 bytes, network byte order.
    @Test func rawKeysLayOutFieldsAsNftRegistersDo() {
        let name: [UInt8] = Array("veth0abcdef".utf8) + [0, 0, 0, 0, 0]
        let mac: [UInt8] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x05, 0, 0]
        #expect(GuardSet.guardedPorts.keys(of: plain) == [name])
        #expect(GuardSet.portMAC.keys(of: plain) == [name + mac])
        #expect(GuardSet.portLinkLayer.keys(of: plain) == [name + mac])
        #expect(GuardSet.portIPv4.keys(of: plain) == [name + mac + [172, 17, 0, 5]])
        #expect(GuardSet.portIPv6.keys(of: plain).isEmpty)
        let six = GuardSet.portNDTarget.keys(of: dual)
        #expect(six.count == 2 && six.allSatisfy { $0.count == 32 })
        #expect(six.first.map { Array($0.suffix(16)) } == [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2])
        #expect(GuardBatch.interfaceName("a-name-longer-than-16").count == 16)
    }

    @Test func fullTableAlwaysHasTheGuardWithItsPorts() {
        let text = Ruleset.full(networks: [], ports: [], options: .init(bridgeNetfilter: true), guarded: [plain])
        #expect(text.contains("\t\telements = { \"veth0abcdef\" . 02:42:ac:11:00:05 }\n"))
        #expect(text.contains("\t\telements = { \"veth0abcdef\" . 0x0242ac110005 }\n"))
        let empty = Ruleset.full(networks: [], ports: [], options: .init(bridgeNetfilter: true))
        #expect(empty.hasSuffix("delete table bridge berth\n" + Self.emptyBridgeTable))
    }
}

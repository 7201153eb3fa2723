import BerthCore
import Netlink
import Testing

// Requests compared byte for byte with fixtures written out from the kernel's struct
// layouts (x86_64, little-endian): nlmsghdr {u32 len, u16 type, u16 flags, u32 seq,
// u32 pid}; ifinfomsg {u8 family, u8 pad, u16 type, s32 index, u32 flags, u32 change};
// ifaddrmsg {u8 family, u8 prefixlen, u8 flags, u8 scope, u32 index}; rtmsg {u8 family,
// dst_len, src_len, tos, table, protocol, scope, type, u32 flags}; ndmsg {u8 family,
// 3 pad, s32 ifindex, u16 state, u8 flags, u8 type}; nlattr {u16 len, u16 type},
// payload padded to 4 bytes. Flags: REQUEST 0x1, ACK 0x4, ECHO 0x8, EXCL 0x200,
// CREATE 0x400, so "create" = 0x060d with echo, 0x0605 without.
@Suite struct RequestFixtureTests {
    @Test func createVethWithPeerNamespaceAndMaster() throws {
        let request = try NetlinkRequest.createVeth(
            name: "veth1a2b", peerName: "eth0", peerNamespaceFD: 7, masterIndex: 3, up: true, mtu: 1500,
            peerMAC: MACAddress("02:42:ac:11:00:02"))
        let fixture = hex(
            "90000000 1000 0d06 2a000000 00000000",          // nlmsghdr: 144 bytes, RTM_NEWLINK, create|echo, seq 42
            "00 00 0000 00000000 01000000 01000000",         // ifinfomsg: index 0, flags IFF_UP, change IFF_UP
            "0d00 0300", ascii("veth1a2b"), "00 000000",     // IFLA_IFNAME "veth1a2b\0" (13) + 3 pad
            "0800 0400 dc050000",                            // IFLA_MTU 1500
            "0800 0a00 03000000",                            // IFLA_MASTER 3
            "5000 1280",                                     // IFLA_LINKINFO | NLA_F_NESTED, 80 bytes
            "  0900 0100", ascii("veth"), "00 000000",       //   IFLA_INFO_KIND "veth\0" (9) + 3 pad
            "  4000 0280",                                   //   IFLA_INFO_DATA | NLA_F_NESTED, 64 bytes
            "    3c00 0100",                                 //     VETH_INFO_PEER, 60 bytes (struct first: no flag)
            "      00 00 0000 00000000 00000000 00000000",   //       peer ifinfomsg: stays down
            "      0900 0300", ascii("eth0"), "00 000000",   //       IFLA_IFNAME "eth0\0"
            "      0a00 0100 0242ac110002 0000",             //       IFLA_ADDRESS + 2 pad
            "      0800 0400 dc050000",                      //       IFLA_MTU 1500
            "      0800 1c00 07000000")                      //       IFLA_NET_NS_FD 7
        #expect(request.encoded(sequence: 42).hexString == fixture)
        #expect(request.operation == "create veth veth1a2b")
    }

    @Test func setIPv6AddressGenerationNone() {
        let request = NetlinkRequest.setIPv6AddressGeneration(index: 9, mode: .none)
        let fixture = hex(
            "30000000 1000 0500 03000000 00000000",          // 48 bytes, RTM_NEWLINK, request|ack, seq 3
            "00 00 0000 09000000 00000000 00000000",         // ifinfomsg: index 9, flags untouched
            "1000 1a80",                                     // IFLA_AF_SPEC | NLA_F_NESTED, 16 bytes
            "  0c00 0a80",                                   //   AF_INET6 | NLA_F_NESTED, 12 bytes
            "    0500 0800 01 000000")                       //     IFLA_INET6_ADDR_GEN_MODE NONE + 3 pad
        #expect(request.encoded(sequence: 3).hexString == fixture)
        #expect(request.operation == "set ipv6 address generation of link 9 to none")
    }

    @Test func setMasterDroppingAlias() {
        // A spare pair's host end claimed for a container: same master, alias removed
        // (IFLA_IFALIAS with no payload).
        let request = NetlinkRequest.setMaster(index: 12, master: 3, alias: "")
        let fixture = hex(
            "2c000000 1000 0500 05000000 00000000",          // 44 bytes, RTM_NEWLINK, request|ack, seq 5
            "00 00 0000 0c000000 00000000 00000000",         // ifinfomsg: index 12
            "0800 0a00 03000000",                            // IFLA_MASTER 3
            "0400 1400")                                     // IFLA_IFALIAS, empty
        #expect(request.encoded(sequence: 5).hexString == fixture)
    }

    @Test func setAlias() {
        let request = NetlinkRequest.setAlias(index: 12, alias: "berth spare")
        let fixture = hex(
            "30000000 1000 0500 06000000 00000000",          // 48 bytes, RTM_NEWLINK, request|ack, seq 6
            "00 00 0000 0c000000 00000000 00000000",         // ifinfomsg: index 12
            "0f00 1400", ascii("berth spare"), "00")         // IFLA_IFALIAS "berth spare" (no NUL: 15) + 1 pad
        #expect(request.encoded(sequence: 6).hexString == fixture)
        #expect(request.operation == "set alias of link 12")
    }

    @Test func createBridge() throws {
        let request = try NetlinkRequest.createBridge(name: "berth0", mtu: 1500)
        let fixture = hex(
            "44000000 1000 0d06 07000000 00000000",          // 68 bytes, RTM_NEWLINK, create|echo, seq 7
            "00 00 0000 00000000 00000000 00000000",         // ifinfomsg
            "0b00 0300", ascii("berth0"), "00 00",           // IFLA_IFNAME "berth0\0" (11) + 1 pad
            "0800 0400 dc050000",                            // IFLA_MTU 1500
            "1000 1280",                                     // IFLA_LINKINFO | nested, 16 bytes
            "  0b00 0100", ascii("bridge"), "00 00")         //   IFLA_INFO_KIND "bridge\0"
        #expect(request.encoded(sequence: 7).hexString == fixture)
    }

    @Test func createBridgeUpWithMAC() throws {
        let request = try NetlinkRequest.createBridge(name: "br0", mac: MACAddress("02:42:00:00:00:01"), up: true)
        let fixture = hex(
            "44000000 1000 0d06 01000000 00000000",          // 68 bytes
            "00 00 0000 00000000 01000000 01000000",         // ifinfomsg up
            "0800 0300", ascii("br0"), "00",                 // IFLA_IFNAME "br0\0" (8)
            "0a00 0100 024200000001 0000",                   // IFLA_ADDRESS
            "1000 1280",                                     // IFLA_LINKINFO
            "  0b00 0100", ascii("bridge"), "00 00")
        #expect(request.encoded(sequence: 1).hexString == fixture)
    }

    @Test func addAddressIPv4() throws {
        let request = NetlinkRequest.addAddress(try #require(IPv4Network("172.17.0.1/16")), index: 5)
        let fixture = hex(
            "30000000 1400 0506 09000000 00000000",          // 48 bytes, RTM_NEWADDR, create, seq 9
            "02 10 00 00 05000000",                          // ifaddrmsg: AF_INET, /16, index 5
            "0800 0200 ac110001",                            // IFA_LOCAL 172.17.0.1
            "0800 0100 ac110001",                            // IFA_ADDRESS 172.17.0.1
            "0800 0400 ac11ffff")                            // IFA_BROADCAST 172.17.255.255
        #expect(request.encoded(sequence: 9).hexString == fixture)
        #expect(request.operation == "add address 172.17.0.1/16 to link 5")
    }

    @Test func addAddressIPv4PointToPointHasNoBroadcast() throws {
        let request = NetlinkRequest.addAddress(try #require(IPv4Network("10.0.0.1/32")), index: 2)
        let fixture = hex(
            "28000000 1400 0506 01000000 00000000",
            "02 20 00 00 02000000",
            "0800 0200 0a000001",
            "0800 0100 0a000001")
        #expect(request.encoded(sequence: 1).hexString == fixture)
    }

    @Test func addAddressIPv6NoDAD() throws {
        let request = NetlinkRequest.addAddress(try #require(IPv6Network("fd00:1::1/64")), index: 5, noDAD: true)
        let fixture = hex(
            "34000000 1400 0506 0a000000 00000000",          // 52 bytes, seq 10
            "0a 40 00 00 05000000",                          // ifaddrmsg: AF_INET6, /64, index 5
            "1400 0100 fd000001 00000000 00000000 00000001", // IFA_ADDRESS fd00:1::1
            "0800 0800 02000000")                            // IFA_FLAGS IFA_F_NODAD
        #expect(request.encoded(sequence: 10).hexString == fixture)
    }

    @Test func deleteAddressIPv4() throws {
        let request = NetlinkRequest.deleteAddress(try #require(IPv4Network("172.17.0.1/16")), index: 5)
        let fixture = hex(
            "28000000 1500 0500 02000000 00000000",          // RTM_DELADDR, REQUEST|ACK
            "02 10 00 00 05000000",
            "0800 0200 ac110001",
            "0800 0100 ac110001")
        #expect(request.encoded(sequence: 2).hexString == fixture)
    }

    @Test func addDefaultRouteIPv4() throws {
        let request = NetlinkRequest.addRoute(destination: nil, gateway: IPv4Address("172.17.0.1"), outputIndex: 5)
        let fixture = hex(
            "2c000000 1800 0506 0b000000 00000000",          // 44 bytes, RTM_NEWROUTE, create, seq 11
            "02 00 00 00 fe 03 00 01 00000000",              // rtmsg: AF_INET, /0, main, boot, universe, unicast
            "0800 0500 ac110001",                            // RTA_GATEWAY
            "0800 0400 05000000")                            // RTA_OIF 5
        #expect(request.encoded(sequence: 11).hexString == fixture)
        #expect(request.operation == "add route default via 172.17.0.1 dev 5")
    }

    @Test func addDefaultRouteIPv6() throws {
        let request = NetlinkRequest.addRoute(
            destination: IPv6Network?.none, gateway: IPv6Address("fd00:1::1"), outputIndex: 5)
        let fixture = hex(
            "38000000 1800 0506 0c000000 00000000",          // 56 bytes
            "0a 00 00 00 fe 03 00 01 00000000",              // rtmsg: AF_INET6
            "1400 0500 fd000001 00000000 00000000 00000001", // RTA_GATEWAY
            "0800 0400 05000000")                            // RTA_OIF
        #expect(request.encoded(sequence: 12).hexString == fixture)
    }

    @Test func addConnectedRouteIsLinkScopedAndCanonical() throws {
        let request = NetlinkRequest.addRoute(destination: IPv4Network("10.1.2.3/16"), outputIndex: 5)
        let fixture = hex(
            "2c000000 1800 0506 01000000 00000000",
            "02 10 00 00 fe 03 fd 01 00000000",              // /16, scope link (253)
            "0800 0100 0a010000",                            // RTA_DST 10.1.0.0: host bits cleared
            "0800 0400 05000000")
        #expect(request.encoded(sequence: 1).hexString == fixture)
        #expect(request.operation == "add route 10.1.0.0/16 dev 5")
    }

    @Test func deleteRouteMatchesAnyScope() throws {
        let request = NetlinkRequest.deleteRoute(destination: IPv4Network?.none, gateway: IPv4Address("172.17.0.1"))
        let fixture = hex(
            "24000000 1900 0500 01000000 00000000",          // RTM_DELROUTE, REQUEST|ACK
            "02 00 00 00 fe 00 ff 00 00000000",              // main, protocol 0, scope nowhere, type 0
            "0800 0500 ac110001")
        #expect(request.encoded(sequence: 1).hexString == fixture)
    }

    @Test func deleteLinkByIndex() {
        let fixture = hex(
            "20000000 1100 0500 0c000000 00000000",          // 32 bytes, RTM_DELLINK, REQUEST|ACK, seq 12
            "00 00 0000 04000000 00000000 00000000")         // ifinfomsg index 4
        #expect(NetlinkRequest.deleteLink(index: 4).encoded(sequence: 12).hexString == fixture)
    }

    @Test func deleteLinkByName() throws {
        let fixture = hex(
            "30000000 1100 0500 01000000 00000000",
            "00 00 0000 00000000 00000000 00000000",
            "0d00 0300", ascii("veth1a2b"), "00 000000")
        #expect(try NetlinkRequest.deleteLink(named: "veth1a2b").encoded(sequence: 1).hexString == fixture)
    }

    @Test func setMaster() {
        let fixture = hex(
            "28000000 1000 0500 0d000000 00000000",          // 40 bytes, RTM_NEWLINK, REQUEST|ACK, seq 13
            "00 00 0000 04000000 00000000 00000000",         // index 4
            "0800 0a00 03000000")                            // IFLA_MASTER 3
        #expect(NetlinkRequest.setMaster(index: 4, master: 3).encoded(sequence: 13).hexString == fixture)
        let release = hex(
            "28000000 1000 0500 0e000000 00000000",
            "00 00 0000 04000000 00000000 00000000",
            "0800 0a00 00000000")                            // IFLA_MASTER 0: nomaster
        #expect(NetlinkRequest.setMaster(index: 4, master: 0).encoded(sequence: 14).hexString == release)
    }

    @Test func setUpAndDownTouchOnlyTheUpFlag() {
        #expect(NetlinkRequest.setUp(index: 9).encoded(sequence: 1).hexString == hex(
            "20000000 1000 0500 01000000 00000000",
            "00 00 0000 09000000 01000000 01000000"))
        #expect(NetlinkRequest.setDown(index: 9).encoded(sequence: 1).hexString == hex(
            "20000000 1000 0500 01000000 00000000",
            "00 00 0000 09000000 00000000 01000000"))
    }

    @Test func moveToNamespace() {
        #expect(NetlinkRequest.moveToNamespace(index: 6, fd: 11).encoded(sequence: 1).hexString == hex(
            "28000000 1000 0500 01000000 00000000",
            "00 00 0000 06000000 00000000 00000000",
            "0800 1c00 0b000000"))
    }

    @Test func dumpLinksSkipsStatistics() {
        #expect(NetlinkRequest.dumpLinks().encoded(sequence: 1).hexString == hex(
            "28000000 1200 0103 01000000 00000000",          // RTM_GETLINK, REQUEST|DUMP (0x301)
            "00 00 0000 00000000 00000000 00000000",
            "0800 1d00 08000000"))                           // IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS
    }

    @Test func createVXLAN() throws {
        let request = try NetlinkRequest.createVXLAN(
            name: "vx-42", vni: 42, localAddress: IPAddress("192.168.1.10"), port: 4789, underlayIndex: 2)
        let fixture = hex(
            "68000000 1000 0d06 14000000 00000000",          // 104 bytes, seq 20
            "00 00 0000 00000000 00000000 00000000",
            "0a00 0300", ascii("vx-42"), "00 0000",          // IFLA_IFNAME "vx-42\0" (10) + 2 pad
            "3c00 1280",                                     // IFLA_LINKINFO, 60 bytes
            "  0a00 0100", ascii("vxlan"), "00 0000",        //   IFLA_INFO_KIND "vxlan\0"
            "  2c00 0280",                                   //   IFLA_INFO_DATA, 44 bytes
            "    0800 0100 2a000000",                        //     IFLA_VXLAN_ID 42
            "    0800 0400 c0a8010a",                        //     IFLA_VXLAN_LOCAL 192.168.1.10
            "    0800 0300 02000000",                        //     IFLA_VXLAN_LINK 2
            "    0600 0f00 12b5 0000",                       //     IFLA_VXLAN_PORT 4789, big-endian
            "    0500 0700 00 000000")                       //     IFLA_VXLAN_LEARNING 0
        #expect(request.encoded(sequence: 20).hexString == fixture)
    }

    @Test func createVXLANWithARPProxy() throws {
        let request = try NetlinkRequest.createVXLAN(name: "vx-7", vni: 256, localAddress: IPAddress("10.99.0.1"), proxy: true, mtu: 1450)
        let fixture = hex(
            "70000000 1000 0d06 15000000 00000000",          // 112 bytes, seq 21
            "00 00 0000 00000000 00000000 00000000",
            "0900 0300", ascii("vx-7"), "00 000000",         // IFLA_IFNAME "vx-7\0" (9) + 3 pad
            "0800 0400 aa050000",                            // IFLA_MTU 1450
            "3c00 1280",                                     // IFLA_LINKINFO, 60 bytes
            "  0a00 0100", ascii("vxlan"), "00 0000",        //   IFLA_INFO_KIND "vxlan\0"
            "  2c00 0280",                                   //   IFLA_INFO_DATA, 44 bytes
            "    0800 0100 00010000",                        //     IFLA_VXLAN_ID 256
            "    0800 0400 0a630001",                        //     IFLA_VXLAN_LOCAL 10.99.0.1
            "    0600 0f00 12b5 0000",                       //     IFLA_VXLAN_PORT 4789
            "    0500 0700 00 000000",                       //     IFLA_VXLAN_LEARNING 0
            "    0500 0b00 01 000000")                       //     IFLA_VXLAN_PROXY 1 (attribute 11)
        #expect(request.encoded(sequence: 21).hexString == fixture)
    }

    @Test func addFDBAppendOnVXLAN() throws {
        let request = NetlinkRequest.addFDB(
            mac: try #require(MACAddress("00:00:00:00:00:00")), index: 6,
            destination: IPAddress("192.168.1.20"), append: true)
        let fixture = hex(
            "30000000 1c00 050c 15000000 00000000",          // RTM_NEWNEIGH, REQUEST|ACK|CREATE|APPEND
            "07 000000 06000000 8000 02 00",                 // ndmsg: AF_BRIDGE, index 6, PERMANENT, NTF_SELF
            "0a00 0200 000000000000 0000",                   // NDA_LLADDR
            "0800 0100 c0a80114")                            // NDA_DST 192.168.1.20
        #expect(request.encoded(sequence: 21).hexString == fixture)
    }

    @Test func addNeighbourPermanent() throws {
        let request = NetlinkRequest.addNeighbour(
            try #require(IPAddress("10.0.0.2")), mac: try #require(MACAddress("02:42:0a:00:00:02")), index: 6)
        let fixture = hex(
            "30000000 1c00 0505 01000000 00000000",          // REQUEST|ACK|CREATE|REPLACE
            "02 000000 06000000 8000 00 00",                 // AF_INET, index 6, PERMANENT
            "0800 0100 0a000002",                            // NDA_DST
            "0a00 0200 02420a000002 0000")                   // NDA_LLADDR
        #expect(request.encoded(sequence: 1).hexString == fixture)
    }

    @Test func invalidInterfaceNamesAreRejectedBeforeSending() {
        #expect(throws: BerthError.self) { try NetlinkRequest.createBridge(name: "a-name-that-is-too-long") }
        #expect(throws: BerthError.self) { try NetlinkRequest.createBridge(name: "") }
        #expect(throws: BerthError.self) { try NetlinkRequest.createVeth(name: "ok", peerName: "bad/name") }
        #expect(throws: BerthError.self) { try NetlinkRequest.setName(index: 1, name: "with space") }
        #expect(throws: Never.self) { try NetlinkRequest.createBridge(name: "exactly15chars_") }
    }
}

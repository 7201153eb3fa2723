import BerthCore
import Glibc
import Netlink
import Testing

// Kernel replies replayed through a fake transport. The first request of each session
// gets sequence 42 (initialSequence 41); replies carry port id 0x1234.
@Suite struct ReplyTests {
    func session(_ transport: FakeTransport) -> RouteNetlink {
        RouteNetlink(transport: transport, initialSequence: 41)
    }

    @Test func ackCompletesARequest() throws {
        let transport = FakeTransport(replies: [hex(
            "24000000 0200 0001 2a000000 34120000",   // NLMSG_ERROR, NLM_F_CAPPED, seq 42
            "00000000",                               // error 0: ack
            "20000000 1000 0500 2a000000 00000000")]) // the request's header
        try session(transport).setUp(index: 9)
        #expect(transport.sent == [NetlinkRequest.setUp(index: 9).encoded(sequence: 42)])
        #expect(transport.replies.isEmpty)
    }

    @Test func errorWithExtendedAck() throws {
        let transport = FakeTransport(replies: [hex(
            "3c000000 0200 0003 2a000000 34120000",   // 60 bytes, NLMSG_ERROR, CAPPED|ACK_TLVS
            "a1ffffff",                               // -EOPNOTSUPP (95)
            "90000000 1000 0d06 2a000000 00000000",   // request header
            "1800 0100", ascii("Unknown device type"), "00") // NLMSGERR_ATTR_MSG
        ])
        let error = try #require(throws: NetlinkError.self) {
            try session(transport).createVeth(name: "vethab12", peerName: "eth0")
        }
        #expect(error.errno == EOPNOTSUPP)
        #expect(error.operation == "create veth vethab12")
        #expect(error.kernelMessage == "Unknown device type")
        #expect(error.description == "netlink: create veth vethab12: Operation not supported (kernel: \"Unknown device type\")")
        #expect(error.asBerthError.code == .kernel)
    }

    @Test func errorWithoutCapAckSkipsTheEchoedRequest() throws {
        // Without NETLINK_CAP_ACK the kernel copies the whole request after its header;
        // the extack attributes come after that copy.
        let transport = FakeTransport(replies: [hex(
            "44000000 0200 0002 2a000000 34120000",   // 68 bytes, ACK_TLVS only
            "efffffff",                               // -EEXIST
            "20000000 1000 0500 2a000000 00000000",   // request header: 32 bytes in all
            "00 00 0000 09000000 01000000 01000000",  // ... and its 16-byte payload
            "0800 0200 10000000",                     // NLMSGERR_ATTR_OFFS (ignored)
            "0800 0100", ascii("abc"), "00")          // NLMSGERR_ATTR_MSG "abc"
        ])
        let error = try #require(throws: NetlinkError.self) { try session(transport).setUp(index: 9) }
        #expect(error.errno == EEXIST)
        #expect(error.kernelMessage == "abc")
        #expect(error.asBerthError.code == .conflict)
    }

    static let loopback = hex(
        "3c000000 1000 0200 2a000000 34120000",       // RTM_NEWLINK, NLM_F_MULTI, 60 bytes
        "00 00 0403 01000000 49000000 00000000",      // ARPHRD_LOOPBACK, index 1, UP|LOOPBACK|RUNNING
        "0700 0300", ascii("lo"), "00 00",            // IFLA_IFNAME "lo"
        "0800 0400 00000100",                         // IFLA_MTU 65536
        "0a00 0100 000000000000 0000")                // IFLA_ADDRESS
    static let veth = hex(
        "70000000 1000 0200 2a000000 34120000",       // 112 bytes
        "00 00 0100 04000000 03100000 00000000",      // ARPHRD_ETHER, index 4, UP|BROADCAST|MULTICAST
        "0d00 0300", ascii("veth1a2b"), "00 000000",
        "0800 0400 dc050000",                         // IFLA_MTU 1500
        "0a00 0100 aabbccddeeff 0000",                // IFLA_ADDRESS
        "0800 0a00 03000000",                         // IFLA_MASTER 3
        "0800 0500 05000000",                         // IFLA_LINK 5 (the peer)
        "1c00 1200",                                  // IFLA_LINKINFO (replies do not flag nests)
        "  0900 0100", ascii("veth"), "00 000000",    //   IFLA_INFO_KIND
        "  0b00 0400", ascii("bridge"), "00 00")      //   IFLA_INFO_SLAVE_KIND

    @Test func multipartDumpUntilDone() throws {
        let transport = FakeTransport(replies: [Self.loopback + Self.veth, done(sequence: 42)])
        let links = try session(transport).links()
        #expect(transport.sent == [NetlinkRequest.dumpLinks().encoded(sequence: 42)])
        #expect(links.count == 2)
        let lo = links[0]
        #expect(lo.index == 1 && lo.name == "lo" && lo.mtu == 65536 && lo.isUp && lo.kind == nil)
        let veth = links[1]
        #expect(veth.index == 4)
        #expect(veth.name == "veth1a2b")
        #expect(veth.mtu == 1500)
        #expect(veth.mac == MACAddress("aa:bb:cc:dd:ee:ff"))
        #expect(veth.isUp)
        #expect(veth.masterIndex == 3)
        #expect(veth.linkIndex == 5)
        #expect(veth.kind == "veth")
        #expect(veth.slaveKind == "bridge")
        #expect(veth.linkNetnsID == nil)
    }

    @Test func doneWithErrorFailsTheDump() throws {
        let transport = FakeTransport(replies: [Self.loopback, hex(
            "14000000 0300 0200 2a000000 34120000", "f0ffffff")]) // NLMSG_DONE with -EBUSY
        let error = try #require(throws: NetlinkError.self) { try session(transport).links() }
        #expect(error.errno == EBUSY && error.operation == "list links")
    }

    @Test func interruptedDumpIsRetried() throws {
        let interrupted = Self.loopback.replacing("100002002a000000", with: "100012002a000000")
        let transport = FakeTransport(replies: [
            interrupted, done(sequence: 42),
            Self.loopback.replacing("2a00000034120000", with: "2b00000034120000"), done(sequence: 43),
        ])
        let links = try session(transport).links()
        #expect(links.map(\.name) == ["lo"])
        #expect(transport.sent.count == 2)
    }

    @Test func staleRepliesAreSkipped() throws {
        // Leftovers of an abandoned earlier exchange (seq 40, 41) come first.
        let transport = FakeTransport(replies: [
            errorReply(sequence: 41, errno: EEXIST) + Self.loopback.replacing("2a000000", with: "28000000"),
            ack(sequence: 42),
        ])
        try session(transport).setMaster(index: 4, master: 3)
        #expect(transport.replies.isEmpty)
    }

    @Test func replyFromTheFutureIsAnError() throws {
        let transport = FakeTransport(replies: [ack(sequence: 43)])
        let error = try #require(throws: NetlinkError.self) { try session(transport).deleteLink(index: 4) }
        #expect(error.errno == EPROTO && error.operation == "delete link 4")
    }

    @Test func echoedLinkGivesTheNewIndex() throws {
        let echo = hex(
            "2c000000 1000 0000 2a000000 34120000",   // RTM_NEWLINK echo, 44 bytes, seq 42
            "00 00 0100 07000000 02100000 00000000",  // index 7
            "0b00 0300", ascii("berth0"), "00 00")
        let transport = FakeTransport(replies: [echo + ack(sequence: 42)])
        #expect(try session(transport).createBridge(name: "berth0") == 7)
        #expect(transport.sent.count == 1)
    }

    @Test func withoutEchoTheIndexIsLookedUp() throws {
        let reply = Self.veth.replacing("02002a000000", with: "00002b000000")
        let transport = FakeTransport(replies: [ack(sequence: 42), reply + ack(sequence: 43)])
        #expect(try session(transport).createVeth(name: "veth1a2b", peerName: "eth0") == 4)
        #expect(transport.sent[1] == (try NetlinkRequest.getLink(named: "veth1a2b")).encoded(sequence: 43))
    }

    @Test func missingLinkIsNil() throws {
        let transport = FakeTransport(replies: [errorReply(sequence: 42, errno: ENODEV)])
        #expect(try session(transport).link(named: "nothere") == nil)
    }

    @Test func batchSendsOnceAndReportsTheFirstFailure() throws {
        let requests = [
            NetlinkRequest.setUp(index: 4),
            NetlinkRequest.deleteLink(index: 99),
            NetlinkRequest.setMTU(index: 4, mtu: 1400),
            NetlinkRequest.setDown(index: 98),
        ]
        let transport = FakeTransport(replies: [
            ack(sequence: 42) + errorReply(sequence: 43, errno: ENODEV, message: "no such device"),
            ack(sequence: 44),
            errorReply(sequence: 45, errno: ENODEV),
        ])
        let error = try #require(throws: NetlinkError.self) { try session(transport).perform(requests) }
        #expect(error.operation == "delete link 99")
        #expect(error.errno == ENODEV && error.isNotFound)
        #expect(error.kernelMessage == "no such device")
        #expect(error.asBerthError.code == .notFound)
        // One datagram holding all four, seq 42...45; every reply was read.
        let expected = requests.enumerated().flatMap { $0.element.encoded(sequence: 42 + UInt32($0.offset)) }
        #expect(transport.sent == [expected])
        #expect(transport.replies.isEmpty)
    }

    @Test func batchOfAcks() throws {
        let transport = FakeTransport(replies: [ack(sequence: 42) + ack(sequence: 43), ack(sequence: 44)])
        let netlink = session(transport)
        try netlink.perform([.setUp(index: 1), .setUp(index: 2), .setUp(index: 3)])
        #expect(transport.replies.isEmpty)
        // The next request continues after the batch's sequence numbers.
        transport.queue(ack(sequence: 45))
        try netlink.setDown(index: 1)
    }

    @Test func addressDump() throws {
        let v4 = hex(
            "44000000 1400 0200 2a000000 34120000",   // RTM_NEWADDR, 68 bytes
            "02 10 80 00 05000000",                   // AF_INET /16, IFA_F_PERMANENT, index 5
            "0800 0100 ac110001",                     // IFA_ADDRESS
            "0800 0200 ac110001",                     // IFA_LOCAL
            "0800 0400 ac11ffff",                     // IFA_BROADCAST
            "0b00 0300", ascii("berth0"), "00 00",    // IFA_LABEL
            "0800 0800 80000000")                     // IFA_FLAGS
        let v6 = hex(
            "34000000 1400 0200 2a000000 34120000",   // 52 bytes
            "0a 40 00 00 05000000",                   // AF_INET6 /64
            "1400 0100 fd000001 00000000 00000000 00000001",
            "0800 0800 82000000")                     // NODAD|PERMANENT
        let transport = FakeTransport(replies: [v4 + v6, done(sequence: 42)])
        let addresses = try session(transport).addresses()
        #expect(transport.sent == [NetlinkRequest.dumpAddresses().encoded(sequence: 42)])
        #expect(addresses.count == 2)
        #expect(addresses[0].ipv4 == IPv4Network("172.17.0.1/16"))
        #expect(addresses[0].index == 5 && addresses[0].family == .ipv4 && addresses[0].label == "berth0")
        #expect(addresses[1].ipv6 == IPv6Network("fd00:1::1/64"))
        #expect(addresses[1].flags == 0x82 && !addresses[1].isTentative)
    }

    @Test func routeDumpKeepsTheMainTable() throws {
        let defaultRoute = hex(
            "34000000 1800 0200 2a000000 34120000",   // RTM_NEWROUTE, 52 bytes
            "02 00 00 00 fe 03 00 01 00000000",
            "0800 0f00 fe000000",                     // RTA_TABLE main
            "0800 0500 ac110001",                     // RTA_GATEWAY
            "0800 0400 05000000")                     // RTA_OIF
        let localRoute = hex(
            "3c000000 1800 0200 2a000000 34120000",
            "02 20 00 00 ff 02 fe 02 00000000",       // local table, RTN_LOCAL
            "0800 0f00 ff000000",
            "0800 0100 ac110001",
            "0800 0700 ac110001",
            "0800 0400 05000000")
        let connected = hex(
            "3c000000 1800 0200 2a000000 34120000",
            "02 10 00 00 fe 02 fd 01 00000000",       // proto kernel, scope link
            "0800 0f00 fe000000",
            "0800 0100 ac110000",                     // RTA_DST 172.17.0.0
            "0800 0700 ac110001",                     // RTA_PREFSRC
            "0800 0400 05000000")
        let transport = FakeTransport(replies: [defaultRoute + localRoute, connected + done(sequence: 42)])
        let routes = try session(transport).routes(family: .ipv4)
        #expect(routes.count == 2)
        #expect(routes[0].isDefault && routes[0].destination == nil)
        #expect(routes[0].gateway == IPAddress("172.17.0.1") && routes[0].outputIndex == 5)
        #expect(routes[1].destination == IPAddress("172.17.0.0") && routes[1].prefixLength == 16)
        #expect(routes[1].preferredSource == IPAddress("172.17.0.1") && routes[1].gateway == nil)
    }

    @Test func truncatedReplyIsAnError() throws {
        // nlmsg_len claims 60 bytes, 24 arrived.
        let transport = FakeTransport(replies: [hex("3c000000 0200 0001 2a000000 34120000 00000000")])
        let error = try #require(throws: NetlinkError.self) { try session(transport).setUp(index: 1) }
        #expect(error.errno == EBADMSG)
    }

    @Test func transportFailureNamesTheOperation() throws {
        let transport = FakeTransport()
        let error = try #require(throws: NetlinkError.self) { try session(transport).setMTU(index: 3, mtu: 9000) }
        #expect(error.operation == "set mtu of link 3 to 9000")
        #expect(error.errno == EAGAIN)
        #expect(error.detail?.hasPrefix("receive") == true)
    }
}

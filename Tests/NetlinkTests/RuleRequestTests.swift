import BerthCore
import Netlink
import Testing

// Policy routing rules and prohibit routes, byte for byte. struct fib_rule_hdr has
// rtmsg's layout: {u8 family, dst_len, src_len, tos, table, res1, res2, action, u32
// flags}; FRA_DST 1, FRA_IIFNAME 3, FRA_PRIORITY 6, FRA_FWMARK 10, FRA_TABLE 15,
// FRA_FWMASK 16, FRA_PROTOCOL 21; RTM_NEWRULE 32, RTM_DELRULE 33, RTM_GETRULE 34;
// FR_ACT_TO_TBL 1; RTN_PROHIBIT 8. Table 0x62657274 is sent as FRA_TABLE only (the
// header's u8 says RT_TABLE_UNSPEC).
@Suite struct RuleRequestTests {
    static let table: UInt32 = 0x6265_7274

    static let isolation = PolicyRule(
        family: .ipv4, priority: 30101, inputInterface: "br-a", mark: 0, markMask: 0x0200_0000,
        table: table, ruleProtocol: 98)

    @Test func addUnmarkedLookupRule() {
        let fixture = hex(
            "50000000 2000 0506 07000000 00000000",          // 80 bytes, RTM_NEWRULE, create, seq 7
            "02 00 00 00 00 00 00 01 00000000",              // AF_INET, table unspec, FR_ACT_TO_TBL
            "0900 0300", ascii("br-a"), "00 000000",         // FRA_IIFNAME "br-a\0" + 3 pad
            "0800 0600 95750000",                            // FRA_PRIORITY 30101
            "0800 0a00 00000000",                            // FRA_FWMARK 0 ...
            "0800 1000 00000002",                            // FRA_FWMASK 0x02000000: mark bit clear
            "0800 0f00 74726562",                            // FRA_TABLE 0x62657274
            "0500 1500 62 000000")                           // FRA_PROTOCOL 98 + 3 pad
        let request = NetlinkRequest.addRule(Self.isolation)
        #expect(request.encoded(sequence: 7).hexString == fixture)
        #expect(request.operation == "add rule priority 30101 iif br-a fwmark 0x0/0x2000000 lookup 1650815604")
    }

    @Test func deleteOwnSubnetRule() throws {
        let rule = PolicyRule(
            family: .ipv4, priority: 30100, inputInterface: "br-a",
            destination: RoutePrefix(try #require(IPv4Network("10.81.0.9/24"))), table: 254, ruleProtocol: 98)
        let fixture = hex(
            "48000000 2100 0500 03000000 00000000",          // 72 bytes, RTM_DELRULE, request|ack, seq 3
            "02 18 00 00 fe 00 00 01 00000000",              // /24, table main
            "0800 0100 0a510000",                            // FRA_DST 10.81.0.0: host bits cleared
            "0900 0300", ascii("br-a"), "00 000000",
            "0800 0600 94750000",                            // FRA_PRIORITY 30100
            "0800 0f00 fe000000",                            // FRA_TABLE 254
            "0500 1500 62 000000")
        #expect(NetlinkRequest.deleteRule(rule).encoded(sequence: 3).hexString == fixture)
    }

    @Test func dumpIPv6Rules() {
        let fixture = hex(
            "1c000000 2200 0103 01000000 00000000",          // RTM_GETRULE, request|dump
            "0a 00 00 00 00 00 00 00 00000000")
        #expect(NetlinkRequest.dumpRules(family: .ipv6).encoded(sequence: 1).hexString == fixture)
    }

    @Test func addProhibitRouteIPv6() throws {
        let prefix = RoutePrefix(try #require(IPv6Network("fd00:82::/64")))
        let fixture = hex(
            "38000000 1800 0506 09000000 00000000",          // 56 bytes, RTM_NEWROUTE, create
            "0a 40 00 00 00 62 00 08 00000000",              // /64, table unspec, proto 98, universe, prohibit
            "1400 0100 fd000082 00000000 00000000 00000000", // RTA_DST
            "0800 0f00 74726562")                            // RTA_TABLE
        let request = NetlinkRequest.addProhibitRoute(prefix, table: Self.table, routeProtocol: 98)
        #expect(request.encoded(sequence: 9).hexString == fixture)
        #expect(request.operation == "add route prohibit fd00:82::/64 table 1650815604")
    }

    @Test func deleteProhibitRouteIPv4() throws {
        let prefix = RoutePrefix(try #require(IPv4Network("10.82.0.0/24")))
        let fixture = hex(
            "2c000000 1900 0500 01000000 00000000",          // RTM_DELROUTE, request|ack
            "02 18 00 00 00 62 ff 08 00000000",              // scope nowhere, type and protocol must match
            "0800 0100 0a520000",
            "0800 0f00 74726562")
        #expect(NetlinkRequest.deleteProhibitRoute(prefix, table: Self.table, routeProtocol: 98)
            .encoded(sequence: 1).hexString == fixture)
    }

    @Test func dumpedRulesReadBackEqualToWhatWasSent() throws {
        // As the kernel answers: table in the header is RT_TABLE_COMPAT (252) for big ids,
        // FRA_FWMARK left out for mark 0, an extra FRA_SUPPRESS_PREFIXLEN (14).
        let isolation = hex(
            "50000000 2000 0200 2a000000 34120000",          // 80 bytes, RTM_NEWRULE, multi
            "02 00 00 00 fc 00 00 01 00000000",
            "0800 0f00 74726562",                            // FRA_TABLE
            "0800 0e00 ffffffff",                            // FRA_SUPPRESS_PREFIXLEN -1
            "0500 1500 62 000000",                           // FRA_PROTOCOL 98
            "0900 0300", ascii("br-a"), "00 000000",         // FRA_IIFNAME
            "0800 0600 95750000",                            // FRA_PRIORITY
            "0800 1000 00000002")                            // FRA_FWMASK
        let local = hex(
            "2c000000 2000 0200 2a000000 34120000",          // priority 0: no FRA_PRIORITY
            "02 00 00 00 ff 00 00 01 00000000",
            "0800 0f00 ff000000",
            "0500 1500 02 000000")                           // proto kernel
        let transport = FakeTransport(replies: [isolation + local + done(sequence: 42)])
        let rules = try RouteNetlink(transport: transport, initialSequence: 41).rules(family: .ipv4)
        #expect(transport.sent == [NetlinkRequest.dumpRules(family: .ipv4).encoded(sequence: 42)])
        #expect(rules.count == 2)
        #expect(rules[0] == Self.isolation)
        #expect(rules[1].table == 255 && rules[1].priority == 0 && rules[1].ruleProtocol == 2 && rules[1].mark == nil)
    }
}

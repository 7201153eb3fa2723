import BerthCore
import Glibc
import Netlink
import Testing

// Policy routing rules and prohibit routes against the real kernel, only inside a
// throwaway namespace (same guard as LiveNetlinkTests):
//   BERTH_LIVE_NETNS=1 unshare --net swift test --skip-build --filter LiveNetlinkTests
extension LiveNetlinkTests {
    @Test func policyRulesAndProhibitRoutes() throws {
        let table: UInt32 = 0x6265_7274
        let subnet = RoutePrefix(try #require(IPv4Network("10.91.0.0/24")))
        let subnet6 = RoutePrefix(try #require(IPv6Network("fd00:91::/64")))
        let lookup = PolicyRule(family: .ipv4, priority: 30101, inputInterface: "lt-rulebr", mark: 0,
                                markMask: 0x0200_0000, table: table, ruleProtocol: 98)
        let lookup6 = PolicyRule(family: .ipv6, priority: 30101, inputInterface: "lt-rulebr", mark: 0,
                                 markMask: 0x0200_0000, table: table, ruleProtocol: 98)
        let own = PolicyRule(family: .ipv4, priority: 30100, inputInterface: "lt-rulebr", destination: subnet,
                             table: 254, ruleProtocol: 98)
        let cleanup = [NetlinkRequest.deleteRule(lookup), .deleteRule(lookup6), .deleteRule(own),
                       .deleteProhibitRoute(subnet, table: table, routeProtocol: 98),
                       .deleteProhibitRoute(subnet6, table: table, routeProtocol: 98)]
        for request in cleanup { try? netlink.perform(request) }
        defer { for request in cleanup { try? netlink.perform(request) } }

        try netlink.perform([.addRule(own), .addRule(lookup), .addRule(lookup6),
                             .addProhibitRoute(subnet, table: table, routeProtocol: 98),
                             .addProhibitRoute(subnet6, table: table, routeProtocol: 98)])
        // Read back equal to what was sent: that is how berth recognises its own at start.
        let rules = try netlink.rules(family: .ipv4)
        #expect(rules.contains(lookup) && rules.contains(own))
        #expect(rules.contains { $0.priority == 0 && $0.table == 255 })  // the kernel's local rule, untouched
        #expect(try netlink.rules(family: .ipv6).contains(lookup6))
        // The very same rule twice is "exists", which berth treats as done.
        let again = try #require(throws: NetlinkError.self) { try netlink.perform(.addRule(lookup)) }
        #expect(again.errno == EEXIST)

        let routes = try netlink.routes(table: table)
        #expect(routes.contains { $0.destination == IPAddress("10.91.0.0") && $0.prefixLength == 24 && $0.type == 8
            && $0.routeProtocol == 98 })
        #expect(routes.contains { $0.destination == IPAddress("fd00:91::") && $0.prefixLength == 64 && $0.type == 8 })

        try netlink.perform([.deleteRule(lookup), .deleteRule(lookup6), .deleteRule(own),
                             .deleteProhibitRoute(subnet, table: table, routeProtocol: 98),
                             .deleteProhibitRoute(subnet6, table: table, routeProtocol: 98)])
        #expect(try !netlink.rules(family: .ipv4).contains { $0.inputInterface == "lt-rulebr" })
        #expect(try netlink.routes(table: table).isEmpty)
        let gone = try #require(throws: NetlinkError.self) { try netlink.perform(.deleteRule(lookup)) }
        #expect(gone.errno == ENOENT)
    }
}

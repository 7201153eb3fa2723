import BerthCore
import Foundation
import Testing
@testable import Firewall

/// berth's table kept whole but for the user's chain, and berth's one rule in other tables.
@Suite struct CoexistenceTests {
    @Test func aRewriteKeepsTheUserChainAndReplacesEverythingElse() {
        let existing = TableListing(
            chains: ["forward", "user", "published", "old_chain"],
            sets: [.init(name: "bridges", isMap: false), .init(name: "published4", isMap: true), .init(name: "retired", isMap: false)])
        let text = Ruleset.full(networks: [], ports: [], options: .init(bridgeNetfilter: true), existing: existing)
        let head = text.split(separator: "\n").prefix(11).joined(separator: "\n")
        #expect(head == """
        add table inet berth
        flush chain inet berth forward
        flush chain inet berth old_chain
        flush chain inet berth published
        delete chain inet berth forward
        delete chain inet berth old_chain
        delete chain inet berth published
        flush set inet berth bridges
        flush map inet berth published4
        delete set inet berth retired
        table inet berth {
        """)
        #expect(!text.contains("delete table inet berth"))
        #expect(!text.contains("chain inet berth user"))
        // The forward chain hands the user's chain every packet first.
        #expect(text.contains("\t\ttype filter hook forward priority filter - 10; policy accept;\n\t\tjump user\n"))
    }

    @Test func hostFirewallModePublishesByDNATOnlyToContainersAndTheHost() {
        let nat = Ruleset.full(networks: [], ports: [], options: .init(bridgeNetfilter: true))
        let governed = Ruleset.full(networks: [], ports: [], options: .init(bridgeNetfilter: true, publishedPorts: .hostFirewall))
        #expect(nat.contains("\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tfib daddr type local jump published\n"))
        #expect(governed.contains("\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tiifname @bridges fib daddr type local jump published\n"))
        // The host itself still reaches published ports by DNAT.
        #expect(governed.contains("\t\ttype nat hook output priority -100; policy accept;\n\t\tfib daddr type local jump published\n"))
    }

    func chain(_ family: String = "ip", _ table: String = "filter", _ name: String = "FORWARD", hook: String? = "forward",
               policy: String? = "drop", rules: [ListedRule] = []) -> ListedChain {
        ListedChain(family: family, table: table, name: name, hook: hook, policy: policy, rules: rules)
    }

    /// The commands in short: "add FAMILY TABLE CHAIN" or "delete FAMILY TABLE CHAIN HANDLE".
    func summary(_ json: String?) -> [String] {
        guard let json, let data = json.data(using: .utf8),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let commands = root["nftables"] as? [[String: Any]] else { return [] }
        return commands.compactMap { command in
            for verb in ["add", "delete"] {
                guard let body = command[verb] as? [String: Any], let rule = body["rule"] as? [String: Any],
                      let family = rule["family"] as? String, let table = rule["table"] as? String, let chain = rule["chain"] as? String
                else { continue }
                if verb == "delete" { return "delete \(family) \(table) \(chain) \(rule["handle"] as? Int ?? -1)" }
                // The rule berth adds: its mark match, a counter, accept, its comment.
                let expressions = rule["expr"] as? [[String: Any]] ?? []
                let match = (expressions.first?["match"] as? [String: Any])?["right"] as? Int
                guard match == 0x0400_0000, expressions.count == 3, rule["comment"] as? String == "berth" else { return "malformed" }
                return "add \(family) \(table) \(chain)"
            }
            return "unknown"
        }
    }

    let ours = ListedRule(handle: 7, comment: "berth", matchesAcceptMark: true)
    let users = ListedRule(handle: 3, comment: nil, matchesAcceptMark: false)

    @Test func berthsRuleGoesLastInDropPolicyChainsOnly() {
        let script = summary(ForeignChains.reconcile([
            chain(),
            chain("inet", "filter", "input", hook: "input", rules: [users]),
            chain("ip", "filter", "OUTPUT", hook: "output"),
            chain("inet", "filter", "open", hook: "forward", policy: "accept"),
            chain("ip", "filter", "DOCKER-USER", hook: nil, policy: nil),
            chain("inet", "berth", "forward", hook: "forward"),
            chain("bridge", "filter", "forward", hook: "forward"),
            // nft's language could not name this one; its JSON can.
            chain("inet", "my table", "fwd", hook: "forward"),
        ]))
        #expect(script == ["add ip filter FORWARD", "add inet filter input", "add inet my table fwd"])
    }

    @Test func aRuleAppendedAfterBerthsMovesBerthsToTheEnd() {
        #expect(ForeignChains.reconcile([chain(rules: [users, ours])]) == nil)
        #expect(summary(ForeignChains.reconcile([chain(rules: [ours, users])])) == ["delete ip filter FORWARD 7", "add ip filter FORWARD"])
        // A duplicate is removed too.
        let twice = ListedRule(handle: 9, comment: "berth", matchesAcceptMark: true)
        #expect(summary(ForeignChains.reconcile([chain(rules: [ours, users, twice])]))
            == ["delete ip filter FORWARD 7", "delete ip filter FORWARD 9", "add ip filter FORWARD"])
    }

    @Test func aChainNoLongerDroppingLosesBerthsRule() {
        #expect(summary(ForeignChains.reconcile([chain(policy: "accept", rules: [users, ours])])) == ["delete ip filter FORWARD 7"])
    }

    @Test func onlyRulesBerthMadeAreEverTouched() {
        // The user's own rule with berth's comment but another match is theirs.
        let lookalike = ListedRule(handle: 4, comment: "berth", matchesAcceptMark: false)
        #expect(summary(ForeignChains.reconcile([chain(rules: [users, lookalike])])) == ["add ip filter FORWARD"])
        #expect(summary(ForeignChains.removal([chain(rules: [users, lookalike, ours]), chain("ip", "mine", "in", policy: "accept", rules: [ours])]))
            == ["delete ip filter FORWARD 7", "delete ip mine in 7"])
        #expect(ForeignChains.removal([chain(rules: [users])]) == nil)
    }

    @Test func listingReadsChainsRulesAndSets() {
        // As libnftables prints `list ruleset` in JSON (abridged from a real iptables-nft table).
        let json = """
        {"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "ip", "name": "filter", "handle": 1}},
        {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
        {"chain": {"family": "ip", "table": "filter", "name": "ufw-user-forward", "handle": 5}},
        {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 2, "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"jump": {"target": "ufw-user-forward"}}]}},
        {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 3, "comment": "berth", "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 67108864]}, "right": 67108864}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},
        {"set": {"family": "inet", "name": "bridges", "table": "berth", "type": "ifname", "handle": 3}},
        {"map": {"family": "inet", "name": "published4", "table": "berth", "type": ["ipv4_addr"], "handle": 4, "map": ["ipv4_addr"]}},
        {"chain": {"family": "inet", "table": "berth", "name": "user", "handle": 9}}
        ]}
        """
        let parsed = RulesetListing.parse(json)
        #expect(parsed.chains.count == 3)
        #expect(parsed.chains[0] == ListedChain(family: "ip", table: "filter", name: "FORWARD", hook: "forward", policy: "drop", rules: [
            ListedRule(handle: 2, comment: nil, matchesAcceptMark: false),
            ListedRule(handle: 3, comment: "berth", matchesAcceptMark: true),
        ]))
        #expect(ForeignChains.reconcile(parsed.chains) == nil)
        #expect(RulesetListing.table(json, family: "inet", name: "berth") == TableListing(
            chains: ["user"], sets: [.init(name: "bridges", isMap: false), .init(name: "published4", isMap: true)]))
        #expect(RulesetListing.parse("not json").chains.isEmpty)
    }

    @Test func anotherProgramsCommitToAnyOtherTableIsAForeignChange() {
        var tamper = RulesetEvents.Tamper(table: "berth", ownPIDs: [100])
        func observe(_ event: RulesetEvent) -> Bool { tamper.observe(event) }
        func take() -> Bool { tamper.takeForeignChange() }
        #expect(!observe(.changed(table: "filter")))
        #expect(!observe(.committed(pid: 100)))
        #expect(!take())  // berth's own commit
        #expect(!observe(.changed(table: "berth")))
        #expect(!observe(.committed(pid: 7)))
        #expect(!take())  // only berth's table: nothing of others changed
        #expect(!observe(.changed(table: "filter")))
        #expect(!observe(.committed(pid: 7)))
        #expect(take())
        #expect(!take())
        #expect(!observe(.deleted(table: "filter")))
        #expect(!observe(.committed(pid: 8)))
        #expect(take())
    }
}

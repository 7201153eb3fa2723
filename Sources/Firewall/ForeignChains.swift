import Foundation

/// berth's one rule in other programs' tables.
///
/// In nftables every base chain at a hook sees a packet, and a drop in any of them is
/// final: berth accepting its traffic in its own table does not stop ufw's, Docker's
/// (iptables-nft's `ip filter` FORWARD with policy drop) or a user's drop-policy chain
/// from dropping it. So every base chain at the forward and input hooks whose policy is
/// drop, in a table of family ip, ip6 or inet that is not berth's, ends in one rule of
/// berth's accepting packets with `Ruleset.acceptMark`, which berth's own chains (running
/// earlier) set only on traffic they accepted for its networks. Being last, it changes
/// only what the chain's policy would have dropped: every rule the user (or ufw, or
/// Docker) wrote before it still decides first. iptables reads it as
/// `-m mark --mark 0x4000000/0x4000000 -m comment --comment berth -j ACCEPT`.
///
/// Whenever another program commits to the ruleset, `reconcile` puts it back: added
/// where missing, moved to the end when a rule was appended after it, removed where the
/// policy is no longer drop. `removal` takes every one of them away (`--cleanup`).
enum ForeignChains {
    /// The comment marking the rule as berth's; with the mark match, what berth owns.
    static let comment = "berth"
    static let hooks: Set<String> = ["forward", "input"]
    static let families: Set<String> = ["ip", "ip6", "inet"]

    /// The commands (libnftables' JSON, which takes any table or chain name: the nft
    /// language cannot say a chain named like one of its keywords) that leave exactly one
    /// rule of berth's, last, in every chain that needs one, and none anywhere else; nil
    /// when nothing is to change.
    static func reconcile(_ chains: [ListedChain]) -> String? {
        var commands: [[String: Any]] = []
        for chain in chains where isForeign(chain) {
            let ours = chain.rules.filter(isOurs)
            guard needsRule(chain) else {
                commands += ours.map { delete($0, from: chain) }
                continue
            }
            if let last = chain.rules.last, isOurs(last), ours.count == 1 { continue }
            commands += ours.map { delete($0, from: chain) }
            commands.append(add(to: chain))
        }
        return script(commands)
    }

    /// The commands that remove every rule of berth's outside its own table; nil if none.
    static func removal(_ chains: [ListedChain]) -> String? {
        script(chains.filter(isForeign).flatMap { chain in chain.rules.filter(isOurs).map { delete($0, from: chain) } })
    }

    /// The chains where berth's rule is (or belongs), for logs.
    static func guarded(_ chains: [ListedChain]) -> [String] {
        chains.filter { isForeign($0) && needsRule($0) }.map { "\($0.family) \($0.table) \($0.name)" }
    }

    static func isForeign(_ chain: ListedChain) -> Bool {
        families.contains(chain.family) && !(chain.family == Ruleset.family && chain.table == Ruleset.table)
    }

    static func needsRule(_ chain: ListedChain) -> Bool {
        guard let hook = chain.hook, hooks.contains(hook) else { return false }
        return chain.policy == "drop"
    }

    static func isOurs(_ rule: ListedRule) -> Bool {
        rule.comment == comment && rule.matchesAcceptMark
    }

    private static func delete(_ rule: ListedRule, from chain: ListedChain) -> [String: Any] {
        ["delete": ["rule": ["family": chain.family, "table": chain.table, "chain": chain.name, "handle": rule.handle]]]
    }

    /// `meta mark & acceptMark == acceptMark counter accept comment "berth"`.
    private static func add(to chain: ListedChain) -> [String: Any] {
        let mark = Int(Ruleset.acceptMark)
        let match: [String: Any] = ["match": ["op": "==", "left": ["&": [["meta": ["key": "mark"]], mark]], "right": mark]]
        return ["add": ["rule": [
            "family": chain.family, "table": chain.table, "chain": chain.name, "comment": comment,
            "expr": [match, ["counter": NSNull()], ["accept": NSNull()]],
        ] as [String: Any]]]
    }

    private static func script(_ commands: [[String: Any]]) -> String? {
        guard !commands.isEmpty,
              let data = try? JSONSerialization.data(withJSONObject: ["nftables": commands], options: [.sortedKeys])
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

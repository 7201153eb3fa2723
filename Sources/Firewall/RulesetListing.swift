import Foundation

/// The chains and sets of berth's table as the kernel holds them, so that a full rewrite
/// replaces all of them but the user's chain.
public struct TableListing: Sendable, Equatable {
    public struct SetName: Sendable, Equatable {
        public var name: String
        public var isMap: Bool
    }

    public var chains: [String]
    public var sets: [SetName]

    public init(chains: [String] = [], sets: [SetName] = []) {
        self.chains = chains
        self.sets = sets
    }
}

/// A chain of any table, with its rules, as libnftables' JSON listing shows it.
struct ListedChain: Sendable, Equatable {
    var family: String
    var table: String
    var name: String
    /// nil for a regular chain.
    var hook: String?
    var policy: String?
    var rules: [ListedRule]
}

struct ListedRule: Sendable, Equatable {
    var handle: Int
    var comment: String?
    /// Whether the rule matches berth's accept mark (`meta mark & acceptMark == acceptMark`).
    var matchesAcceptMark: Bool
}

/// Reads `nft -j list ...` output (libnftables with JSON output on).
enum RulesetListing {
    /// Every chain with its rules in listing order, and every set and map by table.
    static func parse(_ json: String) -> (chains: [ListedChain], sets: [(family: String, table: String, set: TableListing.SetName)]) {
        guard let data = json.data(using: .utf8),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let items = root["nftables"] as? [[String: Any]]
        else { return ([], []) }
        var chains: [ListedChain] = []
        var index: [String: Int] = [:]
        var sets: [(String, String, TableListing.SetName)] = []
        for item in items {
            if let chain = item["chain"] as? [String: Any], let family = chain["family"] as? String,
               let table = chain["table"] as? String, let name = chain["name"] as? String {
                index[key(family, table, name)] = chains.count
                chains.append(ListedChain(family: family, table: table, name: name, hook: chain["hook"] as? String,
                                          policy: chain["policy"] as? String, rules: []))
            } else if let rule = item["rule"] as? [String: Any], let family = rule["family"] as? String,
                      let table = rule["table"] as? String, let chain = rule["chain"] as? String,
                      let handle = rule["handle"] as? Int, let position = index[key(family, table, chain)] {
                chains[position].rules.append(ListedRule(handle: handle, comment: rule["comment"] as? String,
                                                         matchesAcceptMark: matchesAcceptMark(rule["expr"])))
            } else if let set = (item["set"] ?? item["map"]) as? [String: Any], let family = set["family"] as? String,
                      let table = set["table"] as? String, let name = set["name"] as? String {
                sets.append((family, table, TableListing.SetName(name: name, isMap: item["map"] != nil)))
            }
        }
        return (chains, sets)
    }

    /// berth's table as listed.
    static func table(_ json: String, family: String, name: String) -> TableListing {
        let parsed = parse(json)
        return TableListing(
            chains: parsed.chains.filter { $0.family == family && $0.table == name }.map(\.name),
            sets: parsed.sets.filter { $0.family == family && $0.table == name }.map(\.set))
    }

    private static func key(_ family: String, _ table: String, _ chain: String) -> String {
        "\(family)\u{0}\(table)\u{0}\(chain)"
    }

    /// The rule's first expression is `meta mark & acceptMark == acceptMark`.
    private static func matchesAcceptMark(_ expressions: Any?) -> Bool {
        guard let list = expressions as? [[String: Any]], let match = list.first?["match"] as? [String: Any],
              let left = match["left"] as? [String: Any], let and = left["&"] as? [Any], and.count == 2,
              let meta = and[0] as? [String: Any], (meta["meta"] as? [String: Any])?["key"] as? String == "mark",
              let mask = and[1] as? Int, let right = match["right"] as? Int
        else { return false }
        return mask == Int(Ruleset.acceptMark) && right == Int(Ruleset.acceptMark)
    }
}

import BerthCore
import Foundation

/// Docker's `filters` query parameter, with the semantics of moby's `filters.Args`: values of
/// one key are alternatives (except labels, where every term must hold), different keys
/// must all hold. Every list and prune endpoint parses through here, so a key is either
/// validated and applied or refused; none is dropped on the floor.
public struct Filters: Sendable, Equatable {
    /// Key → its values, deduplicated and sorted.
    public private(set) var fields: [String: [String]]

    public init(_ fields: [String: [String]] = [:]) {
        self.fields = fields.mapValues { Array(Set($0)).sorted() }
    }

    /// Parses both shapes Docker accepts: `{"label":{"a=b":true}}` (current) and
    /// `{"label":["a=b"]}` (API < 1.22 clients and docker-py). Absent or empty text means
    /// no filters.
    public static func parse(_ text: String?) throws(BerthError) -> Filters {
        guard let text, !text.isEmpty else { return Filters() }
        let decoded: [String: FilterTerms]
        do {
            decoded = try JSONDecoder().decode([String: FilterTerms].self, from: Data(text.utf8))
        } catch {
            throw .invalid("invalid filters: \(text) is not a JSON object of filter names to a list or map of values")
        }
        var fields: [String: [String]] = [:]
        for (key, terms) in decoded {
            switch terms {
            case .list(let values): fields[key] = values
            case .map(let map):
                if let off = map.first(where: { !$0.value })?.key {
                    throw .invalid("invalid filter '\(key)=\(off)': a filter value must be true")
                }
                fields[key] = Array(map.keys)
            }
        }
        return Filters(fields)
    }

    public var isEmpty: Bool { fields.isEmpty }
    public var keys: [String] { fields.keys.sorted() }
    public func contains(_ key: String) -> Bool { fields[key] != nil }
    public func values(_ key: String) -> [String] { fields[key] ?? [] }

    /// Refuses any key the endpoint does not know, in Docker's wording.
    public func requireKeys(in allowed: Set<String>) throws(BerthError) {
        if let unknown = keys.first(where: { !allowed.contains($0) }) {
            throw .invalid("invalid filter '\(unknown)'")
        }
    }

    /// True when the key is absent or one of its values equals `source`.
    public func exactMatch(_ key: String, _ source: String) -> Bool {
        guard let values = fields[key] else { return true }
        return values.contains(source)
    }

    /// True when the key is absent, or one value equals `source` or, read as a regular
    /// expression, matches somewhere in it (moby's `Args.Match`, used for names and ids).
    public func match(_ key: String, _ source: String) -> Bool {
        guard let values = fields[key] else { return true }
        return values.contains { Self.matches(pattern: $0, source) }
    }

    /// True when the key is absent or every `KEY` / `KEY=VALUE` term holds for `labels`
    /// (moby's `MatchKVList`: label terms are ANDed, which is what compose relies on).
    public func matchLabels(_ key: String, _ labels: [String: String]) -> Bool {
        guard let values = fields[key] else { return true }
        return values.allSatisfy { Self.labelTermHolds($0, labels) }
    }

    /// Label terms must name a key: `label=` would otherwise match nothing silently.
    public func requireLabelTerms(_ key: String) throws(BerthError) {
        for term in values(key) where term.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0].isEmpty {
            throw .invalid("invalid filter '\(key)=\(term)': a label filter needs KEY or KEY=VALUE")
        }
    }

    static func labelTermHolds(_ term: String, _ labels: [String: String]) -> Bool {
        let parts = term.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let value = labels[parts[0]] else { return false }
        return parts.count == 1 || parts[1] == value
    }

    static func matches(pattern: String, _ source: String) -> Bool {
        if pattern == source { return true }
        // An invalid expression matches nothing beyond equality, as in moby.
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return false }
        let range = NSRange(source.startIndex..<source.endIndex, in: source)
        return expression.firstMatch(in: source, range: range) != nil
    }
}

/// One key's values in either of Docker's two JSON shapes.
private enum FilterTerms: Decodable {
    case list([String])
    case map([String: Bool])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Not the map shape means the list shape, whose decoding reports a bad body.
        if let map = try? container.decode([String: Bool].self) { self = .map(map) }
        else { self = .list(try container.decode([String].self)) }
    }
}

import BerthCore
import Foundation

/// `GET /networks` filters.
public struct NetworkFilter: Sendable {
    public static let keys: Set<String> = ["dangling", "driver", "id", "label", "name", "scope", "type"]

    let filters: Filters
    let dangling: Bool?

    public init(_ filters: Filters) throws(BerthError) {
        try filters.requireKeys(in: Self.keys)
        try filters.requireLabelTerms("label")
        for type in filters.values("type") where type != "custom" && type != "builtin" {
            throw .invalid("invalid filter 'type=\(type)': expected custom or builtin")
        }
        for scope in filters.values("scope") where !["local", "swarm", "global"].contains(scope) {
            throw .invalid("invalid filter 'scope=\(scope)': expected local, swarm or global")
        }
        self.filters = filters
        self.dangling = try filters.bool("dangling")
    }

    /// `inUse`: some container is attached (dangling means custom and unused).
    public func matches(name: String, id: String, driver: String, scope: String, labels: [String: String],
                        builtin: Bool, inUse: Bool) -> Bool {
        guard filters.match("name", name), filters.match("id", id), filters.exactMatch("driver", driver),
              filters.exactMatch("scope", scope), filters.exactMatch("type", builtin ? "builtin" : "custom"),
              filters.matchLabels("label", labels)
        else { return false }
        if let dangling, dangling != (!builtin && !inUse) { return false }
        return true
    }
}

/// `GET /images/json` filters (and the legacy `filter` parameter, a reference pattern).
public struct ImageFilter: Sendable {
    public static let keys: Set<String> = ["before", "dangling", "label", "reference", "since", "until"]

    let filters: Filters
    let dangling: Bool?
    let until: Date?
    let before: Date?
    let since: Date?

    /// `created` resolves an image reference for before/since (throws not found).
    public init(_ filters: Filters, legacyReference: String? = nil, now: Date = Date(),
                created: (String) throws(BerthError) -> Date) throws(BerthError) {
        var filters = filters
        if let legacyReference, !legacyReference.isEmpty {
            var fields = filters.fields
            fields["reference", default: []].append(legacyReference)
            filters = Filters(fields)
        }
        try filters.requireKeys(in: Self.keys)
        try filters.requireLabelTerms("label")
        self.filters = filters
        self.dangling = try filters.bool("dangling")
        self.until = try filters.timestamp("until", now: now)
        var befores: [Date] = []
        for reference in filters.values("before") { befores.append(try created(reference)) }
        var sinces: [Date] = []
        for reference in filters.values("since") { sinces.append(try created(reference)) }
        self.before = befores.min()
        self.since = sinces.max()
    }

    public func matches(repoTags: [String], created: Date, labels: [String: String]) -> Bool {
        if let dangling, dangling != repoTags.isEmpty { return false }
        if let until, created >= until { return false }
        if let before, created >= before { return false }
        if let since, created <= since { return false }
        guard filters.matchLabels("label", labels) else { return false }
        if filters.contains("reference") {
            let patterns = filters.values("reference")
            return repoTags.contains { tag in patterns.contains { ReferencePattern.matches($0, tag) } }
        }
        return true
    }
}

/// Docker's reference filter: a path glob against the familiar "name:tag", or against the
/// name alone (so "busybox" and "busy*" find "busybox:latest").
enum ReferencePattern {
    static func matches(_ pattern: String, _ repoTag: String) -> Bool {
        if glob(pattern, repoTag) { return true }
        guard let colon = repoTag.lastIndex(of: ":"), !repoTag[colon...].contains("/") else { return false }
        return glob(pattern, String(repoTag[..<colon]))
    }

    private static func glob(_ pattern: String, _ text: String) -> Bool {
        fnmatch(pattern, text, FNM_PATHNAME) == 0
    }
}

/// Filters of the prune endpoints: `until`, `label`, `label!` (and `dangling` for images).
public struct PruneFilter: Sendable {
    let filters: Filters
    let until: Date?
    public let dangling: Bool?

    public init(_ filters: Filters, allowing keys: Set<String> = ["until", "label", "label!"],
                now: Date = Date()) throws(BerthError) {
        try filters.requireKeys(in: keys)
        try filters.requireLabelTerms("label")
        try filters.requireLabelTerms("label!")
        self.filters = filters
        self.until = try filters.timestamp("until", now: now)
        self.dangling = try filters.bool("dangling")
    }

    /// moby's `matchLabels`: every `label` term holds, and not every `label!` term holds.
    public func matches(created: Date, labels: [String: String]) -> Bool {
        if let until, created >= until { return false }
        guard filters.matchLabels("label", labels) else { return false }
        if filters.contains("label!"), filters.matchLabels("label!", labels) { return false }
        return true
    }
}

/// `POST /containers/prune`.
public struct ContainersPruneResponse: Codable, Sendable {
    public var ContainersDeleted: [String]
    public var SpaceReclaimed: Int64

    public init(ContainersDeleted: [String], SpaceReclaimed: Int64 = 0) {
        self.ContainersDeleted = ContainersDeleted
        self.SpaceReclaimed = SpaceReclaimed
    }
}

/// `POST /images/prune`.
public struct ImagesPruneResponse: Codable, Sendable {
    public var ImagesDeleted: [ImageDeleteItem]
    public var SpaceReclaimed: Int64

    public init(ImagesDeleted: [ImageDeleteItem], SpaceReclaimed: Int64) {
        self.ImagesDeleted = ImagesDeleted
        self.SpaceReclaimed = SpaceReclaimed
    }
}

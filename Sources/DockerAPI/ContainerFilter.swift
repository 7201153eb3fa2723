import BerthCore
import Foundation

/// What `GET /containers/json` filters look at, for one container.
public struct ContainerFacts: Sendable {
    public var id: String
    /// Without the leading "/".
    public var name: String
    public var labels: [String: String]
    /// created, running, exited, removing...
    public var state: String
    public var exitCode: Int32
    public var hasStarted: Bool
    public var imageID: String
    /// Names and ids of the networks it is attached to (host/none included).
    public var networkNames: [String]
    public var networkIDs: [String]
    /// "PORT/PROTO": container ports it exposes (published ones included), and host
    /// ports published for it while it runs.
    public var exposedPorts: Set<String>
    public var publishedPorts: Set<String>
    public var created: Date

    public init(id: String, name: String, labels: [String: String], state: String, exitCode: Int32, hasStarted: Bool,
                imageID: String, networkNames: [String], networkIDs: [String], exposedPorts: Set<String>,
                publishedPorts: Set<String>, created: Date) {
        self.id = id
        self.name = name
        self.labels = labels
        self.state = state
        self.exitCode = exitCode
        self.hasStarted = hasStarted
        self.imageID = imageID
        self.networkNames = networkNames
        self.networkIDs = networkIDs
        self.exposedPorts = exposedPorts
        self.publishedPorts = publishedPorts
        self.created = created
    }
}

/// Every filter Docker documents for `GET /containers/json`, validated up front and applied.
public struct ContainerFilter: Sendable {
    public static let keys: Set<String> = [
        "ancestor", "before", "expose", "exited", "health", "id", "isolation", "is-task", "label", "name",
        "network", "publish", "since", "status", "volume",
    ]
    public static let states: Set<String> = ["created", "restarting", "running", "removing", "paused", "exited", "dead"]
    static let healthStates: Set<String> = ["starting", "healthy", "unhealthy", "none"]

    let filters: Filters
    let ancestors: Set<String>?
    let before: Date?
    let since: Date?
    let exitCodes: Set<Int32>?
    let expose: Set<String>
    let publish: Set<String>
    let isTask: Bool?
    /// A status filter lists stopped containers without `all`, as Docker's does.
    public var impliesAll: Bool { filters.contains("status") }

    /// `imageID` resolves an image reference (nil when unknown: that ancestor matches
    /// nothing, as in Docker); `created` resolves a container for before/since (throws
    /// not found).
    public init(_ filters: Filters, imageID: (String) -> String?,
                created: (String) throws(BerthError) -> Date) throws(BerthError) {
        try filters.requireKeys(in: Self.keys)
        try filters.requireLabelTerms("label")
        for state in filters.values("status") where !Self.states.contains(state) {
            throw .invalid("invalid filter 'status=\(state)'")
        }
        for health in filters.values("health") where !Self.healthStates.contains(health) {
            throw .invalid("invalid filter 'health=\(health)': expected starting, healthy, unhealthy or none")
        }
        // Containers here run in Linux namespaces; Docker refuses hyperv/process on Linux.
        for isolation in filters.values("isolation") where isolation.lowercased() != "default" {
            throw .invalid("invalid filter 'isolation=\(isolation)': only default isolation exists on Linux")
        }
        var codes = Set<Int32>()
        for value in filters.values("exited") {
            guard let code = Int32(value) else { throw .invalid("invalid filter 'exited=\(value)': not an exit code") }
            codes.insert(code)
        }
        self.filters = filters
        self.exitCodes = filters.contains("exited") ? codes : nil
        self.expose = try filters.ports("expose")
        self.publish = try filters.ports("publish")
        self.isTask = try filters.bool("is-task")
        self.ancestors = filters.contains("ancestor") ? Set(filters.values("ancestor").compactMap(imageID)) : nil
        self.before = try Self.bound(filters, "before", created, pick: { $0.min() })
        self.since = try Self.bound(filters, "since", created, pick: { $0.max() })
    }

    private static func bound(_ filters: Filters, _ key: String, _ created: (String) throws(BerthError) -> Date,
                              pick: ([Date]) -> Date?) throws(BerthError) -> Date? {
        var dates: [Date] = []
        for reference in filters.values(key) { dates.append(try created(reference)) }
        return pick(dates)
    }

    public func matches(_ container: ContainerFacts) -> Bool {
        guard filters.match("name", container.name) || filters.match("name", "/" + container.name),
              filters.match("id", container.id),
              filters.matchLabels("label", container.labels),
              filters.exactMatch("status", container.state)
        else { return false }
        if let ancestors, !ancestors.contains(container.imageID) { return false }
        if let before, container.created >= before { return false }
        if let since, container.created <= since { return false }
        if let exitCodes {
            guard container.state == "exited", container.hasStarted, exitCodes.contains(container.exitCode) else { return false }
        }
        if filters.contains("network") {
            let wanted = filters.values("network")
            let byName = container.networkNames.contains(where: wanted.contains)
            let byID = container.networkIDs.contains { id in wanted.contains { !$0.isEmpty && id.hasPrefix($0) } }
            if !byName && !byID { return false }
        }
        if filters.contains("expose"), container.exposedPorts.isDisjoint(with: expose) { return false }
        if filters.contains("publish"), container.publishedPorts.isDisjoint(with: publish) { return false }
        // berth runs no health checks: every container's health is Docker's "none".
        if filters.contains("health"), !filters.values("health").contains("none") { return false }
        // No swarm: no container is a task.
        if isTask == true { return false }
        // berth has no volumes or bind mounts: no container has a mount a volume filter names.
        if filters.contains("volume") { return false }
        return true
    }
}

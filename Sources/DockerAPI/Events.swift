import BerthCore
import Foundation

/// One message of `GET /events` (moby's `events.Message`). `status`, `id` and `from` are the
/// pre-1.22 fields Docker still fills for container and image events; compose 1.29 reads them.
public struct EventMessage: Codable, Sendable, Equatable {
    public var status: String?
    public var id: String?
    public var from: String?
    /// `Type` in JSON.
    public var type: String
    public var Action: String
    public var Actor: EventActor
    public var scope: String
    /// Unix seconds and nanoseconds of the same instant.
    public var time: Int64
    public var timeNano: Int64

    public init(type: String, action: String, actor: EventActor, timeNano: Int64) {
        self.type = type
        self.Action = action
        self.Actor = actor
        self.scope = "local"
        self.timeNano = timeNano
        // Floor division: an instant before 1970 still gets the second it falls in.
        let (seconds, remainder) = timeNano.quotientAndRemainder(dividingBy: 1_000_000_000)
        self.time = remainder < 0 ? seconds - 1 : seconds
        if type == EventType.container || type == EventType.image {
            status = action
            id = actor.ID
            from = type == EventType.container ? actor.Attributes["image"] : nil
        }
    }

    enum CodingKeys: String, CodingKey {
        case status, id, from, type = "Type", Action, Actor, scope, time, timeNano
    }
}

public struct EventActor: Codable, Sendable, Equatable {
    public var ID: String
    public var Attributes: [String: String]

    public init(ID: String, Attributes: [String: String]) {
        self.ID = ID
        self.Attributes = Attributes
    }
}

/// Docker's event types, as the `Type` field and the `type` filter spell them.
public enum EventType {
    public static let container = "container"
    public static let image = "image"
    public static let network = "network"
    public static let daemon = "daemon"
    /// Every type Docker has; berth emits the first three, the others select nothing here.
    public static let all: Set<String> = [container, image, network, daemon, "builder", "config", "node", "plugin",
                                          "secret", "service", "volume"]
}

/// `since` and `until` of `GET /events`: Unix seconds with an optional fraction, which is
/// what the docker CLI sends after converting durations and RFC 3339 itself
/// (moby's `timetypes.ParseTimestamps`). Nanoseconds since 1970; nil when absent.
public enum EventTime {
    public static func nanoseconds(_ text: String?, name: String) throws(BerthError) -> Int64? {
        guard let text, !text.isEmpty else { return nil }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let refused = BerthError.invalid("invalid \(name): \(text) is not Unix seconds (SECONDS[.FRACTION])")
        guard parts[0].allSatisfy(\.isASCIIDigit), let seconds = Int64(parts[0]) else { throw refused }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else { throw refused }
            // Nine digits are nanoseconds; fewer are padded, more are cut (sub-nanosecond).
            let padded = String(digits.prefix(9)) + String(repeating: "0", count: max(0, 9 - digits.count))
            fraction = Int64(padded) ?? 0
        }
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflow2) = scaled.addingReportingOverflow(fraction)
        guard !overflow, !overflow2 else { throw refused }
        return total
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// `GET /events` filters with moby's semantics (daemon/events/filter.go): different keys
/// must all hold; `type`, `scope` and `event` are exact (`event` is a prefix match when a
/// value is a bare `exec_create`, `exec_start` or `health_status`); an object key
/// (`container`, `network`, ...) matches the actor's ID or `name` attribute by prefix,
/// whatever the event's type; `image` matches an image event's ID or name or a container
/// event's image, with or without the tag; `label` terms all hold on the attributes.
public struct EventFilter: Sendable {
    static let objectKeys = ["config", "container", "daemon", "network", "node", "plugin", "secret", "service", "volume"]
    public static let keys: Set<String> = Set(objectKeys).union(["event", "image", "label", "scope", "type"])

    let filters: Filters

    public init(_ filters: Filters) throws(BerthError) {
        try filters.requireKeys(in: Self.keys)
        try filters.requireLabelTerms("label")
        for type in filters.values("type") where !EventType.all.contains(type) {
            throw .invalid("invalid filter 'type=\(type)': expected one of \(EventType.all.sorted().joined(separator: ", "))")
        }
        for scope in filters.values("scope") where scope != "local" && scope != "swarm" {
            throw .invalid("invalid filter 'scope=\(scope)': expected local or swarm")
        }
        self.filters = filters
    }

    public func matches(_ event: EventMessage) -> Bool {
        guard matchesAction(event.Action), filters.exactMatch("type", event.type), filters.exactMatch("scope", event.scope),
              filters.matchLabels("label", event.Actor.Attributes), matchesImage(event)
        else { return false }
        let name = event.Actor.Attributes["name"] ?? ""
        return Self.objectKeys.allSatisfy { key in
            prefixMatch(key, event.Actor.ID) || prefixMatch(key, name)
        }
    }

    private func matchesAction(_ action: String) -> Bool {
        let fuzzy: Set<String> = ["exec_create", "exec_start", "health_status"]
        if filters.values("event").contains(where: fuzzy.contains) { return prefixMatch("event", action) }
        return filters.exactMatch("event", action)
    }

    /// moby's `FuzzyMatch`: true when the key is absent or a value is a prefix of `source`.
    private func prefixMatch(_ key: String, _ source: String) -> Bool {
        guard filters.contains(key) else { return true }
        return filters.values(key).contains { source.hasPrefix($0) }
    }

    private func matchesImage(_ event: EventMessage) -> Bool {
        guard filters.contains("image") else { return true }
        let name = event.Actor.Attributes[event.type == EventType.image ? "name" : "image"] ?? ""
        let candidates = [event.Actor.ID, name, Self.repository(event.Actor.ID), Self.repository(name)]
        return candidates.contains { !$0.isEmpty && filters.exactMatch("image", $0) }
    }

    /// A reference without its tag or digest, in Docker's short form ("busybox" for
    /// "docker.io/library/busybox:latest"); an image ID stays as it is.
    static func repository(_ reference: String) -> String {
        guard !reference.hasPrefix("sha256:") else { return reference }
        var name = Substring(reference)
        if let at = name.firstIndex(of: "@") { name = name[..<at] }
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { name = name[..<colon] }
        for prefix in ["docker.io/library/", "docker.io/"] where name.hasPrefix(prefix) {
            name = name.dropFirst(prefix.count)
            break
        }
        return String(name)
    }
}

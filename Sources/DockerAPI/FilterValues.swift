import BerthCore
import Foundation

/// Typed readings of filter values; each refuses a value it cannot read, naming it.
extension Filters {
    /// A boolean filter (`dangling`, `is-task`): nil when absent. Docker takes
    /// true/1/false/0; two different answers at once are refused, not guessed between.
    public func bool(_ key: String) throws(BerthError) -> Bool? {
        var answers = Set<Bool>()
        for value in values(key) {
            switch value.lowercased() {
            case "true", "1": answers.insert(true)
            case "false", "0": answers.insert(false)
            default: throw .invalid("invalid filter '\(key)=\(value)': expected true or false")
            }
        }
        guard answers.count <= 1 else { throw .invalid("invalid filter '\(key)': both true and false given") }
        return answers.first
    }

    /// A single point in time (`until`): nil when absent.
    public func timestamp(_ key: String, now: Date = Date()) throws(BerthError) -> Date? {
        let given = values(key)
        guard let value = given.first else { return nil }
        guard given.count == 1 else { throw .invalid("invalid filter '\(key)': more than one \(key) given") }
        guard let date = DockerTimestamp.parse(value, now: now) else {
            throw .invalid("invalid filter '\(key)=\(value)': not a timestamp (RFC 3339, date, Unix seconds or a duration like 24h)")
        }
        return date
    }

    /// Container ports (`expose`, `publish`): "80", "80/udp", "8000-8080/tcp", as
    /// "PORT/PROTO" strings.
    public func ports(_ key: String) throws(BerthError) -> Set<String> {
        var result = Set<String>()
        for value in values(key) {
            guard let ports = PortFilterValue.expand(value) else {
                throw .invalid("invalid filter '\(key)=\(value)': expected PORT[-PORT][/tcp|udp|sctp]")
            }
            result.formUnion(ports)
        }
        return result
    }
}

enum PortFilterValue {
    static func expand(_ value: String) -> [String]? {
        let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let proto = parts.count == 2 ? parts[1].lowercased() : "tcp"
        guard ["tcp", "udp", "sctp"].contains(proto) else { return nil }
        let bounds = parts[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let low = UInt16(bounds[0]), low > 0 else { return nil }
        let high: UInt16
        if bounds.count == 2 {
            guard let upper = UInt16(bounds[1]), upper >= low else { return nil }
            high = upper
        } else {
            high = low
        }
        return (low...high).map { "\($0)/\(proto)" }
    }
}

/// Docker's timestamp forms for `until`/`since` (moby's `timetypes.GetTimestamp`): a Go
/// duration before now ("10m", "1h30m"), Unix seconds ("1700000000.5"), RFC 3339, or a
/// local date/time without zone down to the day.
public enum DockerTimestamp {
    public static func parse(_ value: String, now: Date = Date()) -> Date? {
        if value != "0", let seconds = goDuration(value) { return now.addingTimeInterval(-seconds) }
        if !value.contains("-"), let seconds = Double(value), seconds.isFinite, seconds >= 0 {
            return Date(timeIntervalSince1970: seconds)
        }
        let zoned = ISO8601DateFormatter()
        zoned.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = zoned.date(from: value) { return date }
        zoned.formatOptions = [.withInternetDateTime]
        if let date = zoned.date(from: value) { return date }
        for layout in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH", "yyyy-MM-dd"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone.current
            formatter.dateFormat = layout
            if let date = formatter.date(from: value) { return date }
        }
        return nil
    }

    /// Seconds in a Go duration string ("1h30m", "2.5s", "-5m"); nil if it is not one.
    static func goDuration(_ text: String) -> Double? {
        var rest = Substring(text)
        var sign = 1.0
        if rest.first == "-" || rest.first == "+" {
            if rest.first == "-" { sign = -1 }
            rest = rest.dropFirst()
        }
        guard !rest.isEmpty else { return nil }
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let amount = Double(number), amount.isFinite else { return nil }
            rest = rest.dropFirst(number.count)
            // Two-letter units come first, so "ms" is never read as minutes.
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += amount * scale
        }
        return total.isFinite ? sign * total : nil
    }
}

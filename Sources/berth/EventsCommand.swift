import ArgumentParser
import DockerAPI
import Foundation
import HTTPUnix

/// `berth events`: docker's `events` command. Times are converted here, as the docker CLI
/// does (durations, RFC 3339, dates, Unix seconds), and sent as Unix seconds.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show berthd's events as they happen")
    @Option(help: "Events from this time on (10m, 2026-12-03T16:00:00, Unix seconds)") var since: String?
    @Option(help: "Stop at this time (same forms)") var until: String?
    @Option(name: [.short, .long], help: "Only matching events: type, event, container, network, image, label, ... KEY=VALUE")
    var filter: [String] = []
    @Option(help: "Go-template style format, e.g. {{json .}} or {{.Type}} {{.Action}}") var format: String?

    func run() async throws {
        let now = Date()
        var query = try FilterOption.query(filter)
        for (name, value) in [("since", since), ("until", until)] {
            guard let value else { continue }
            guard let date = DockerTimestamp.parse(value, now: now) else {
                throw CLIFailure(message: "invalid --\(name) \(value): expected a duration (10m), RFC 3339, a date or Unix seconds")
            }
            query.append((name, EventLine.unixSeconds(date)))
        }
        let api = try APIClient()
        do {
            try await api.client.stream("GET", "/v\(APIVersion.current)/events", query: query) { response in
                guard response.status == 200 else {
                    var bytes: [UInt8] = []
                    for try await chunk in response.body { bytes += chunk }
                    let message = (try? APIClient.decoder.decode(ErrorResponse.self, from: Data(bytes)))?.message
                    throw CLIFailure(message: message ?? "status \(response.status)")
                }
                var pending: [UInt8] = []
                for try await chunk in response.body {
                    pending += chunk
                    while let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = Array(pending[..<end])
                        pending.removeSubrange(...end)
                        if !line.isEmpty { try print(EventLine.render(line, format: format)) }
                    }
                }
            }
        } catch let error as HTTPClientError {
            throw CLIFailure(message: "cannot connect to the berth daemon at \(Daemon.host): \(error)")
        }
    }
}

/// One event as the docker CLI prints it.
enum EventLine {
    static func render(_ line: [UInt8], format: String?) throws -> String {
        if let format {
            let object = try JSONSerialization.jsonObject(with: Data(line))
            return renderTemplate(format, value: object)
        }
        let event = try APIClient.decoder.decode(EventMessage.self, from: Data(line))
        return text(event, timeZone: .current)
    }

    /// `<time> <type> <action> <id> (<k=v>, ...)`, the time in local time to the
    /// nanosecond, the attributes sorted by key: docker's default line.
    static func text(_ event: EventMessage, timeZone: TimeZone) -> String {
        var line = "\(time(event.timeNano, timeZone: timeZone)) \(event.type) \(event.Action) \(event.Actor.ID)"
        let attributes = event.Actor.Attributes
        if !attributes.isEmpty {
            line += " (" + attributes.keys.sorted().map { "\($0)=\(attributes[$0] ?? "")" }.joined(separator: ", ") + ")"
        }
        return line
    }

    /// Go's RFC3339NanoFixed: 2026-12-03T16:15:00.123456789+01:00, or ...Z in UTC.
    static func time(_ nanoseconds: Int64, timeZone: TimeZone) -> String {
        let (quotient, remainder) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        let seconds = remainder < 0 ? quotient - 1 : quotient
        let fraction = remainder < 0 ? remainder + 1_000_000_000 : remainder
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let offset = timeZone.secondsFromGMT(for: date)
        let zone = offset == 0
            ? "Z" : (offset < 0 ? "-" : "+") + String(format: "%02d:%02d", abs(offset) / 3600, abs(offset) % 3600 / 60)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%09d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
                      parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0, Int(fraction)) + zone
    }

    /// "SECONDS.NANOSECONDS", as the docker CLI sends `since` and `until`.
    static func unixSeconds(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        let seconds = interval.rounded(.down)
        // The daemon takes no time before 1970 (nor one a Double cannot count in seconds).
        guard seconds >= 0, seconds < 1e15 else { return "0.000000000" }
        let nanoseconds = min(999_999_999, max(0, Int(((interval - seconds) * 1e9).rounded())))
        return String(format: "%lld.%09d", Int64(seconds), nanoseconds)
    }
}

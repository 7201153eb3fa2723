import Foundation
import HTTPUnix

/// A moment as Docker's logs carry it: seconds since the epoch and nanoseconds.
struct LogTime: Sendable, Comparable, Hashable {
    var seconds: Int64
    var nanoseconds: Int32

    static func < (a: LogTime, b: LogTime) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    static func now() -> LogTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return LogTime(seconds: Int64(spec.tv_sec), nanoseconds: Int32(truncatingIfNeeded: spec.tv_nsec))
    }

    /// RFC 3339 with nanoseconds, UTC ("2026-12-03T16:12:01.123456789Z"), as Docker writes.
    var rfc3339Nano: String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(nanoseconds, 9))Z"
    }

    /// Parses what `rfc3339Nano` writes, with any number of fraction digits (or none) and a
    /// `Z` or `±hh:mm` zone; nil for anything else.
    init?(rfc3339 text: String) {
        let bytes = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int32? {
            guard from >= 0, from + count <= bytes.count else { return nil }
            var value: Int32 = 0
            for byte in bytes[from..<from + count] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int32(byte - 48)
            }
            return value
        }
        guard bytes.count >= 20, let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61,
              bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
        var index = 19
        var nanos: Int32 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 9 { nanos = nanos * 10 + Int32(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { nanos *= 10 }
        }
        var offset: Int64 = 0
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "Z") {
            index += 1
        } else if bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            guard let zoneHours = number(index + 1, 2), let zoneMinutes = number(index + 4, 2) else { return nil }
            offset = Int64(zoneHours) * 3600 + Int64(zoneMinutes) * 60
            if bytes[index] == UInt8(ascii: "+") { offset = -offset }
            index += 6
        }
        guard index == bytes.count else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        self.init(seconds: Int64(timegm(&parts)) + offset, nanoseconds: nanos)
    }

    init(seconds: Int64, nanoseconds: Int32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// Docker's `since`/`until` query form: "SECONDS[.NANOSECONDS]" (the CLI turns
    /// durations and dates into it); nil for anything else.
    init?(unixText text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let seconds = Int64(parts[0]) else { return nil }
        var nanos: Int32 = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.count <= 9, fraction.allSatisfy(\.isASCII), let value = Int32(fraction) else {
                return nil
            }
            nanos = value
            for _ in fraction.count..<9 { nanos *= 10 }
        }
        self.init(seconds: seconds, nanoseconds: nanos)
    }
}

/// One entry of a container's log.
struct LogEntry: Sendable, Equatable {
    var stream: RawStream.Kind
    var time: LogTime?
    var bytes: [UInt8]
}

/// Docker's json-file log: one `{"log":"…","stream":"stdout|stderr","time":"…"}` per line,
/// so `docker logs` tooling and people reading `LogPath` find what they expect.
enum JSONLog {
    static let fileSuffix = "-json.log"

    static func line(_ entry: LogEntry) -> [UInt8] {
        var out: [UInt8] = Array(#"{"log":""#.utf8)
        escape(entry.bytes, into: &out)
        out += Array(#"","stream":""#.utf8)
        out += Array((entry.stream == .stderr ? "stderr" : "stdout").utf8)
        out += Array(#"","time":""#.utf8)
        out += Array((entry.time ?? LogTime(seconds: 0, nanoseconds: 0)).rfc3339Nano.utf8)
        out += Array("\"}\n".utf8)
        return out
    }

    /// JSON string escaping of raw output; invalid UTF-8 becomes U+FFFD, as in Docker.
    static func escape(_ bytes: [UInt8], into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            switch scalar.value {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20:
                let value = Int(scalar.value)
                out += Array("\\u00".utf8) + [hex[value >> 4], hex[value & 0xF]]
            default:
                out += Array(String(scalar).utf8)
            }
        }
    }

    private struct Line: Decodable {
        var log: String
        var stream: String
        var time: String?
    }

    /// nil for a line that is not a json-file entry (a torn last line, say).
    static func parse(_ line: some Collection<UInt8>) -> LogEntry? {
        guard let decoded = try? JSONDecoder().decode(Line.self, from: Data(line)) else { return nil }
        let stream: RawStream.Kind = decoded.stream == "stderr" ? .stderr : .stdout
        return LogEntry(stream: stream, time: decoded.time.flatMap { LogTime(rfc3339: $0) }, bytes: Array(decoded.log.utf8))
    }
}

/// Splits one stream's output into log entries at newlines, as Docker's json-file does: a
/// line is held until its newline, or until it reaches `maxLine` bytes, or the stream ends.
struct LineSplitter: Sendable {
    static let maxLine = 16 * 1024
    private var pending: [UInt8] = []

    mutating func feed(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        for byte in bytes {
            pending.append(byte)
            if byte == UInt8(ascii: "\n") || pending.count >= Self.maxLine {
                lines.append(pending)
                pending = []
            }
        }
        return lines
    }

    mutating func finish() -> [UInt8]? {
        defer { pending = [] }
        return pending.isEmpty ? nil : pending
    }
}

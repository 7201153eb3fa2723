import BerthCore
import DockerAPI
import Foundation
import HTTPUnix

/// What `GET /containers/{id}/logs` (and attach's `logs`) asks for.
struct LogQuery: Sendable {
    var stdout = true
    var stderr = true
    var since: LogTime?
    var until: LogTime?
    /// The last N entries only; nil: all.
    var tail: Int?
    var timestamps = false
    var follow = false

    /// Docker's query parameters; a value berth cannot read is refused, naming it.
    init(query: QueryParameters) throws(BerthError) {
        stdout = query.bool("stdout") ?? false
        stderr = query.bool("stderr") ?? false
        guard stdout || stderr else { throw BerthError.invalid("you must choose at least one stream") }
        // Extra attributes come from log drivers with labels or env options; berth has none.
        if query.bool("details") == true { throw BerthError.invalid("details: berth's logs carry no extra attributes") }
        timestamps = query.bool("timestamps") ?? false
        follow = query.bool("follow") ?? false
        since = try Self.time(query["since"], name: "since")
        until = try Self.time(query["until"], name: "until")
        if let text = query["tail"], text != "all", !text.isEmpty {
            guard let count = Int(text) else { throw BerthError.invalid("invalid value for \"tail\": \(text)") }
            tail = max(count, 0)
        }
    }

    init() {}

    private static func time(_ text: String?, name: String) throws(BerthError) -> LogTime? {
        guard let text, !text.isEmpty else { return nil }
        guard let time = LogTime(unixText: text) else {
            throw BerthError.invalid("invalid value for \"\(name)\": \(text)")
        }
        // 0 is the CLI's "no limit".
        return time.seconds == 0 && time.nanoseconds == 0 ? nil : time
    }

    func wants(_ entry: LogEntry) -> Bool {
        switch entry.stream {
        case .stdout, .stdin: guard stdout else { return false }
        case .stderr, .systemError: guard stderr else { return false }
        }
        if let since, let time = entry.time, time < since { return false }
        if let until, let time = entry.time, !(time < until) { return false }
        return true
    }

    /// The entry as it goes to the client: with its time in front when asked.
    func payload(_ entry: LogEntry) -> [UInt8] {
        guard timestamps else { return entry.bytes }
        return Array(((entry.time ?? LogTime(seconds: 0, nanoseconds: 0)).rfc3339Nano + " ").utf8) + entry.bytes
    }
}

/// Reads a container's log: the raw `container.log` an older berth wrote (all of it
/// stdout, without times) if there is one, then the json-file log.
struct LogFileReader {
    private var files: [(handle: FileHandle, raw: Bool)]
    private var pending: [UInt8] = []

    /// nil when the container has no log yet.
    init?(directory: String, id: String) {
        files = []
        if let handle = FileHandle(forReadingAtPath: directory + "/" + RuncRuntime.logFileName) {
            files.append((handle, true))
        }
        if let handle = FileHandle(forReadingAtPath: directory + "/" + id + JSONLog.fileSuffix) {
            files.append((handle, false))
        }
        if files.isEmpty { return nil }
    }

    func close() {
        for file in files { try? file.handle.close() }  // read-only: nothing is lost
    }

    /// The entries written since the last call (complete lines only; a line being written
    /// is left for the next call).
    mutating func readAvailable() -> [LogEntry] {
        var entries: [LogEntry] = []
        while let file = files.first {
            let data = file.handle.readData(ofLength: 256 * 1024)
            if data.isEmpty {
                // Only the old raw log is finished at its end: nobody writes it any more.
                guard file.raw, files.count > 1 else { break }
                entries += rest()
                try? file.handle.close()
                files.removeFirst()
                continue
            }
            pending += data
            var start = 0
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if file.raw {
                    entries.append(LogEntry(stream: .stdout, time: nil, bytes: Array(pending[start...newline])))
                } else if let entry = JSONLog.parse(pending[start..<newline]) {
                    entries.append(entry)
                }
                start = newline + 1
            }
            pending.removeFirst(start)
        }
        return entries
    }

    /// What is left without a newline at the end of an old raw log.
    mutating func rest() -> [LogEntry] {
        defer { pending = [] }
        guard files.first?.raw == true, !pending.isEmpty else { return [] }
        return [LogEntry(stream: .stdout, time: nil, bytes: pending)]
    }
}

/// Streams a container's log as `query` asks, in frames (non-TTY) or raw (TTY), following
/// it while `isCapturing` says output may still come.
enum LogStreamer {
    static func stream(directory: String, id: String, query: LogQuery,
                       write: @Sendable ([UInt8], RawStream.Kind) async throws -> Void,
                       isCapturing: @Sendable () async -> Bool) async throws {
        var reader = LogFileReader(directory: directory, id: id)
        while reader == nil {
            guard query.follow, await isCapturing() else { return }
            try await Task.sleep(for: .milliseconds(50))
            reader = LogFileReader(directory: directory, id: id)
        }
        guard var reader else { return }
        defer { reader.close() }
        var first = reader.readAvailable()
        if !query.follow { first += reader.rest() }
        var selected = first.filter(query.wants)
        if let tail = query.tail { selected = Array(selected.suffix(tail)) }
        for entry in selected { try await write(query.payload(entry), entry.stream) }
        guard query.follow else { return }
        while true {
            // Asked before reading: output written just before the capture ended is still read.
            let capturing = await isCapturing()
            let entries = reader.readAvailable()
            for entry in entries where query.wants(entry) { try await write(query.payload(entry), entry.stream) }
            if let until = query.until, LogTime.now() > until { return }
            if !capturing && entries.isEmpty { return }
            if entries.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
    }
}

/// The one log driver berth has. Another driver or any log option is refused with the
/// other fields berth does not honour (`CreateRequestRules`).
enum LogDriver {
    static let jsonFile = HostConfig.LogConfig(Type: "json-file", Config: [:])
}

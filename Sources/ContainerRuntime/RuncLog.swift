import BerthCore
import Foundation

/// runc's `--log-format json` output: one object per line, e.g.
/// {"level":"error","msg":"container_linux.go:380: starting container process caused: …","time":"…"}
enum RuncLog {
    private struct Entry: Decodable {
        var level: String?
        var msg: String?
    }

    /// The message of the last error (or fatal) entry, if any.
    static func lastError(in data: Data) -> String? {
        var last: String?
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            // runc's log may hold lines that are not JSON entries: they are not its errors.
            guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(line)),
                  let level = entry.level, level == "error" || level == "fatal",
                  let message = entry.msg, !message.isEmpty else { continue }
            last = message
        }
        return last
    }

    static func lastError(inFile path: String) -> String? {
        FileManager.default.contents(atPath: path).flatMap(lastError(in:))
    }

    /// Maps runc's wording onto error codes so the API can answer 404/409 rather than 500.
    static func error(_ operation: String, id: String, message: String) -> BerthError {
        let lowered = message.lowercased()
        let code: ErrorCode
        if lowered.contains("does not exist") || lowered.contains("container not found") {
            code = .notFound
        } else if lowered.contains("already exists") || lowered.contains("not running")
                    || lowered.contains("is stopped") || lowered.contains("cannot delete container")
                    || lowered.contains("is paused") {
            code = .conflict
        } else if (operation == "run" || operation == "exec") && Self.isInvalidCommand(lowered) {
            // The container's command cannot be run: the client's configuration is wrong, not
            // berth, so 400 as Docker answers it.
            code = .invalidArgument
        } else {
            code = .internal
        }
        return BerthError(code, "runc \(operation) \(id): \(message)")
    }

    /// What runc says when the process it was asked to exec is missing or not executable.
    static func isInvalidCommand(_ lowered: String) -> Bool {
        guard lowered.contains("exec:") || lowered.contains("exec ") else { return false }
        return lowered.contains("executable file not found") || lowered.contains("no such file or directory")
            || lowered.contains("permission denied") || lowered.contains("exec format error")
    }
}

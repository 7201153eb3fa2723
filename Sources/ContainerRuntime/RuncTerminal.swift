import BerthCore
import Foundation

extension Runc {
    /// `runc exec --tty` of `args`, detached: runc sends the pty master to `consoleSocket` and
    /// returns once the process runs. Without --detach runc would copy between its own stdio
    /// and the terminal, which needs a terminal of its own. The process is then an orphan the
    /// daemon (a child subreaper) reaps: watch the returned pid for its exit status.
    public func execTerminal(id: String, args: [String], env: [String] = [], workingDirectory: String? = nil,
                             user: OCISpec.User? = nil, consoleSocket: String) throws -> Int32 {
        guard !args.isEmpty else { throw BerthError.invalid("exec needs a command") }
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        let pidFile = logDirectory + "/exec-" + UUID().uuidString + ".pid"
        defer { unlink(pidFile) }
        var arguments = ["exec", "--detach", "--tty", "--console-socket", consoleSocket, "--pid-file", pidFile]
        for entry in env { arguments += ["--env", entry] }
        if let workingDirectory { arguments += ["--cwd", workingDirectory] }
        arguments += Self.userArguments(user)
        _ = try invoke("exec", id: id, arguments + [id] + args)
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else {
            throw BerthError(.internal, "runc exec \(id): started but its pid file is missing or invalid")
        }
        return pid
    }
}

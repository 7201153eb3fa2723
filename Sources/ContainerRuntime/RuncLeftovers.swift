import Foundation

/// runc invocations a previous daemon started and did not see finish. A `runc run` or
/// `runc delete` outlives a daemon killed while it waited for it, and may finish after
/// the next daemon has compared its records with runc's list: a container would then
/// run that no record says is running, or a record say running of one runc just removed.
/// The next daemon waits for them before it looks.
public enum RuncLeftovers {
    /// The subcommands that change what runc's list says. `exec` is left out: it lasts as
    /// long as the exec'd process, and changes nothing in the list.
    static let changing: Set<String> = ["run", "create", "start", "delete", "kill"]

    /// Whether a process's arguments (/proc/PID/cmdline split at NULs) are a runc call on
    /// `root` that changes its list.
    public static func isPending(arguments: [String], root: String) -> Bool {
        guard let rootIndex = arguments.firstIndex(of: "--root"), rootIndex + 1 < arguments.count,
              arguments[rootIndex + 1] == root else { return false }
        // Global options (--root R --log L --log-format json) come before the subcommand.
        var index = rootIndex + 2
        while index < arguments.count, arguments[index].hasPrefix("--") { index += 2 }
        return index < arguments.count && changing.contains(arguments[index])
    }

    /// The processes of this machine that are such calls on `root`.
    public static func pending(root: String) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }  // no /proc: none seen
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != getpid(), let text = ProcFile.read("/proc/\(pid)/cmdline") else { return nil }
            let arguments = text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
            return isPending(arguments: arguments, root: root) ? pid : nil
        }
    }

    /// Waits until no such call is left, or the deadline passes; the ones still running
    /// then are returned (the caller says so and goes on: they are not killed, as one may
    /// be finishing a container's start that its client is still waiting for).
    public static func waitForPending(root: String, timeout: Duration) async -> [Int32] {
        let deadline = ContinuousClock.now + timeout
        var left = pending(root: root)
        while !left.isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))  // only cancelled at shutdown
            left = pending(root: root)
        }
        return left
    }
}

import BerthCore
import Foundation

/// What `runc state` reports for a container.
public struct RuncState: Sendable, Equatable, Decodable {
    public var id: String
    /// The container's init process as seen from the host; 0 once stopped.
    public var pid: Int32
    /// "creating", "created", "running", "paused" or "stopped".
    public var status: String
    public var bundle: String
}

/// Drives the runc binary. Every call passes this daemon's own `--root`, so daemons
/// sharing a machine never see each other's containers, and `--log … --log-format json`
/// so failures come back as runc's own one-line message rather than raw stderr.
public struct Runc: Sendable {
    public let binary: String
    /// runc's state directory, e.g. <exec-root>/runc.
    public let root: String
    /// Per-invocation log files live here briefly (not in `root`, which runc owns).
    public let logDirectory: String
    /// Where runc runs; nil: the caller's mount namespace.
    public let namespace: LaunchNamespace?

    public init(binary: String = "runc", root: String, logDirectory: String? = nil, namespace: LaunchNamespace? = nil) {
        self.binary = Self.resolve(binary)
        self.root = root
        self.namespace = namespace
        self.logDirectory = logDirectory ?? (root.hasSuffix("/") ? String(root.dropLast()) : root) + "-log"
    }

    /// A bare name is looked up on $PATH plus the sbin directories runc usually lives in.
    public static func resolve(_ binary: String) -> String {
        guard !binary.contains("/") else { return binary }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin"]
        for directory in directories where access("\(directory)/\(binary)", X_OK) == 0 {
            return "\(directory)/\(binary)"
        }
        return binary
    }

    // MARK: Lifecycle

    /// `runc run --detach`: creates and starts the container, returns its init pid once it runs.
    /// The container inherits runc's stdio (detached, no terminal), so `stdout`/`stderr` become
    /// the container's output — typically the same log file descriptor. stdin is /dev/null.
    /// Note: if runc itself fails, its final error line also lands in that output.
    @discardableResult
    /// With `consoleSocket` (the spec asks for a terminal) runc sends the pty master there and
    /// the container does not inherit runc's stdio.
    public func run(id: String, bundle: String, pidFile: String? = nil, stdin: FileHandle? = nil,
                    stdout: FileHandle?, stderr: FileHandle?, consoleSocket: String? = nil) throws -> Int32 {
        let pidFile = pidFile ?? "\(bundle)/init.pid"
        unlink(pidFile) // a stale file from an earlier run would hand back a dead pid
        let console = consoleSocket.map { ["--console-socket", $0] } ?? []
        _ = try invoke("run", id: id, ["run", "--detach", "--pid-file", pidFile] + console + ["--bundle", bundle, id],
                       stdin: stdin, stdout: stdout, stderr: stderr)
        // Unreadable or malformed both mean no pid from runc: the error below says so.
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else {
            throw BerthError(.internal, "runc run \(id): started but pid file \(pidFile) is missing or invalid")
        }
        return pid
    }

    /// Sends a signal to the container's init (or, with `all`, to every process in it).
    public func kill(id: String, signal: Int32 = SIGTERM, all: Bool = false) throws {
        _ = try invoke("kill", id: id, ["kill"] + (all ? ["--all"] : []) + [id, String(signal)])
    }

    /// Removes runc's state (and cgroup) for a stopped container; `force` kills a running one first.
    /// Throws `.notFound` when runc does not know the container.
    public func delete(id: String, force: Bool = false) throws {
        _ = try invoke("delete", id: id, ["delete"] + (force ? ["--force"] : []) + [id])
    }

    /// nil when runc has no such container.
    public func state(id: String) throws -> RuncState? {
        do {
            let output = try invoke("state", id: id, ["state", id], inLaunchNamespace: false)
            do {
                return try JSONDecoder().decode(RuncState.self, from: output.stdout)
            } catch {
                throw BerthError(.internal, "runc state \(id): unreadable output", cause: error)
            }
        } catch let error as BerthError where error.code == .notFound {
            return nil
        }
    }

    /// Every container under this daemon's runc root.
    public func listStates() throws -> [RuncState] {
        let output = try invoke("list", id: "", ["list", "--format", "json"], inLaunchNamespace: false)
        // runc prints `null` when there are none.
        do {
            return try JSONDecoder().decode([RuncState]?.self, from: output.stdout) ?? []
        } catch {
            throw BerthError(.internal, "runc list: unreadable output", cause: error)
        }
    }

    public func list() throws -> [String] { try listStates().map(\.id) }

    /// Freezes every process of the container (the cgroup freezer).
    public func pause(id: String) throws {
        _ = try invoke("pause", id: id, ["pause", id])
    }

    public func resume(id: String) throws {
        _ = try invoke("resume", id: id, ["resume", id])
    }

    /// The host pids of the container's processes, from its cgroup.
    public func processIDs(id: String) throws -> [Int32] {
        let output = try invoke("ps", id: id, ["ps", "--format", "json", id], inLaunchNamespace: false)
        do {
            return try JSONDecoder().decode([Int32]?.self, from: output.stdout) ?? []
        } catch {
            throw BerthError(.internal, "runc ps \(id): unreadable output", cause: error)
        }
    }

    // MARK: Exec

    /// `runc exec` of `args` in the running container. Its stdout and stderr come back as pipes the
    /// caller must drain (an unread pipe eventually blocks the process). `env` entries ("K=V") are
    /// added to the container's configured environment.
    public func exec(id: String, args: [String], env: [String] = [], workingDirectory: String? = nil,
                     stdin: FileHandle? = nil, user: OCISpec.User? = nil) throws -> RuncExecProcess {
        guard !args.isEmpty else { throw BerthError.invalid("exec needs a command") }
        let logPath = try newLogPath()
        var arguments = globalArguments(logPath: logPath) + ["exec"]
        for entry in env { arguments += ["--env", entry] }
        if let workingDirectory { arguments += ["--cwd", workingDirectory] }
        arguments += Self.userArguments(user)
        arguments += [id] + args
        do {
            let started = try Command.start(binary, arguments, stdin: stdin, stdout: nil, stderr: nil, in: namespace)
            guard let out = started.stdoutPipe, let err = started.stderrPipe else {
                throw BerthError(.internal, "runc exec \(id): pipes missing")
            }
            return RuncExecProcess(id: id, pid: started.pid, latch: started.latch, stdout: out, stderr: err, logPath: logPath)
        } catch {
            unlink(logPath)
            throw error
        }
    }

    // MARK: Plumbing

    /// `runc exec --user uid:gid --additional-gids …` for an exec run as `user`.
    static func userArguments(_ user: OCISpec.User?) -> [String] {
        guard let user else { return [] }
        var arguments = ["--user", "\(user.uid):\(user.gid)"]
        for gid in user.additionalGids ?? [] { arguments += ["--additional-gids", "\(gid)"] }
        return arguments
    }

    private func globalArguments(logPath: String) -> [String] {
        ["--root", root, "--log", logPath, "--log-format", "json"]
    }

    private func newLogPath() throws -> String {
        do {
            try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        } catch {
            throw BerthError(.internal, "cannot create runc log directory \(logDirectory)", cause: error)
        }
        return "\(logDirectory)/\(UUID().uuidString).json"
    }

    /// Runs one runc command to completion; a non-zero exit becomes a BerthError carrying runc's
    /// last logged error (or its stderr when the log is empty). `list` and `state` only read
    /// runc's state files: they run where the caller is, so a starting daemon's
    /// reconciliation does not wait for the launch namespace to be trimmed.
    func invoke(_ operation: String, id: String, _ arguments: [String],
                        stdin: FileHandle? = nil, stdout: FileHandle? = nil, stderr: FileHandle? = nil,
                        inLaunchNamespace: Bool = true) throws -> CommandOutput {
        let logPath = try newLogPath()
        defer { unlink(logPath) }
        let output: CommandOutput
        do {
            output = try Command.run(binary, globalArguments(logPath: logPath) + arguments, stdin: stdin, stdout: stdout, stderr: stderr,
                                     in: inLaunchNamespace ? namespace : nil)
        } catch let error as BerthError {
            throw BerthError(.unavailable, "runc \(operation): cannot run \(binary): \(error.description)")
        }
        guard output.status == 0 else {
            let message = RuncLog.lastError(inFile: logPath) ?? output.diagnostic
            throw RuncLog.error(operation, id: id,
                                message: message.isEmpty ? "exit status \(output.status)" : message)
        }
        return output
    }
}

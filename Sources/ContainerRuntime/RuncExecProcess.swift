import BerthCore
import Foundation
import Synchronization

/// A running `runc exec`. Read `stdout`/`stderr` until EOF, then `wait()` for the exit code.
/// runc exec exits with the command's own status (128+signal if it was killed).
public final class RuncExecProcess: Sendable {
    public let containerID: String
    /// pid of the `runc exec` process (not of the command inside the container).
    public let pid: Int32
    public let stdout: FileHandle
    public let stderr: FileHandle
    private let latch: ExitLatch
    private let logPath: String
    private let outcome = Mutex<Result<Int32, BerthError>?>(nil)

    init(id: String, pid: Int32, latch: ExitLatch, stdout: FileHandle, stderr: FileHandle, logPath: String) {
        containerID = id
        self.pid = pid
        self.latch = latch
        self.stdout = stdout
        self.stderr = stderr
        self.logPath = logPath
    }

    /// Blocks until runc exits. Throws when runc itself failed (e.g. the container is not running
    /// or the command does not exist), with runc's message; otherwise returns the command's status.
    public func wait() throws -> Int32 {
        try settle(latch.wait()).get()
    }

    /// The same as `wait()` without blocking a thread.
    public func exitCode() async throws -> Int32 {
        try settle(await latch.value()).get()
    }

    /// Non-nil once the process has exited (does not read runc's log).
    public var hasExited: Bool { latch.status != nil }

    /// Signals the runc exec process, which forwards the signal to the command.
    public func signal(_ signal: Int32) {
        guard !hasExited else { return }
        _ = Glibc.kill(pid, signal)
    }

    private func settle(_ status: Int32) -> Result<Int32, BerthError> {
        outcome.withLock { outcome in
            if let outcome { return outcome }
            let result: Result<Int32, BerthError>
            if let message = RuncLog.lastError(inFile: logPath) {
                result = .failure(RuncLog.error("exec", id: containerID, message: message))
            } else {
                result = .success(status)
            }
            unlink(logPath)
            outcome = result
            return result
        }
    }
}

import BerthCore
import CLinux
import Foundation
import Glibc

/// A process that only keeps one descriptor open (as its stdin) while berthd may be away: a
/// terminal's master (closing it hangs up the container's shell) or the write end of a
/// container's stdin (closing it is the container's EOF). A restarted berthd takes its copy
/// back with pidfd_getfd; berthd kills the holder when the container stops.
/// (A shell loop rather than `sleep infinity`: it must not outlive the container.)
public struct DescriptorHolder: Sendable, Equatable, Codable {
    public var pid: Int32
    public var startTime: UInt64

    /// Starts a holder of `fd` that ends by itself once process `container` is gone, so
    /// none is left behind when berthd is not there to stop it. The caller reaps it
    /// (`ProcessMonitor.watch`).
    public static func start(holding fd: Int32, whileAlive container: Int32) throws -> DescriptorHolder {
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        // sleep gets no copy of the descriptor: killing the shell must be enough to close it.
        let script = "while kill -0 \(container) 2>/dev/null; do sleep 1 </dev/null; done"
        let pid = try Command.startUnreaped("/bin/sh", ["-c", script], stdin: handle)
        guard let startTime = ProcessMonitor.startTime(pid: pid) else {
            throw BerthError(.internal, "the descriptor holder exited as soon as it started")
        }
        return DescriptorHolder(pid: pid, startTime: startTime)
    }

    /// A copy of the held descriptor, nil when the holder is gone (or is another process).
    public func reclaim() -> Int32? {
        guard ProcessMonitor.isAlive(pid: pid, startTime: startTime) else { return nil }
        let pidfd = berth_pidfd_open(pid)
        guard pidfd >= 0 else { return nil }
        defer { close(pidfd) }
        // Checked again through the pidfd's process: the pid may have been reused meanwhile.
        guard ProcessMonitor.isAlive(pid: pid, startTime: startTime) else { return nil }
        let fd = berth_pidfd_getfd(pidfd, 0)
        return fd >= 0 ? fd : nil
    }

    /// Ends the holder; already gone is fine.
    public func stop() {
        guard ProcessMonitor.isAlive(pid: pid, startTime: startTime) else { return }
        let pidfd = berth_pidfd_open(pid)
        guard pidfd >= 0 else { return }
        defer { close(pidfd) }
        _ = berth_pidfd_send_signal(pidfd, SIGKILL)
    }
}

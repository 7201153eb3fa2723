import BerthCore
import CLinux
import Foundation
import Glibc

/// A process that only keeps one descriptor open (as its stdin) while berthd may be away: a
/// terminal's master (closing it hangs up the container's shell) or the write end of a
/// container's stdin (closing it is the container's EOF). A restarted berthd takes its copy
/// back with pidfd_getfd; berthd kills the holder when the container stops.
/// (`tail --pid` rather than `sleep infinity`: it must not outlive the container.)
public struct DescriptorHolder: Sendable, Equatable, Codable {
    public var pid: Int32
    public var startTime: UInt64
    /// Where the holder keeps the descriptor.
    static let heldDescriptor: Int32 = 0

    static let tailBinary: String = {
        for path in ["/usr/bin/tail", "/bin/tail"] where access(path, X_OK) == 0 { return path }
        return "tail"
    }()

    /// Starts a holder of `fd` that ends by itself once process `container` is gone, so
    /// none is left behind when berthd is not there to stop it. The caller reaps it
    /// (`ProcessMonitor.watch`).
    public static func start(holding fd: Int32, whileAlive container: Int32) throws -> DescriptorHolder {
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        // GNU tail leaves its stdin alone and ends once `container` is gone (it checks each
        // second); a shell loop would move the descriptor around in its redirections.
        let pid = try Command.startUnreaped(tailBinary, ["--pid=\(container)", "-f", "/dev/null"], stdin: handle)
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
        let fd = berth_pidfd_getfd(pidfd, Self.heldDescriptor)
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

import BerthCore
import Glibc

/// A container's stdio goes through FIFOs in its directory rather than pipes berthd holds,
/// so berthd can die and come back without the container noticing: the container's output
/// ends are opened read-write (a FIFO with no reader would make writes fail with EPIPE; this
/// way they only block once the raised pipe buffer is full), and a restarted berthd opens the
/// same files again to go on reading.
public enum StdioFifos {
    public static let stdoutName = "stdout.fifo"
    public static let stderrName = "stderr.fifo"
    public static let stdinName = "stdin.fifo"
    /// What the container may write while nobody reads (berthd down) before its writes block.
    public static let pipeBufferSize: Int32 = 1 << 20

    /// The container's end of an output FIFO (made if missing): read-write, blocking.
    public static func openContainerOutput(_ path: String) throws(BerthError) -> Int32 {
        try make(path)
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", path) }
        // A smaller buffer than asked (pipe-max-size) still works: writes block sooner.
        _ = fcntl(fd, fcntlSetPipeSize, pipeBufferSize)
        return fd
    }

    /// berthd's end of an output FIFO: read-only and non-blocking (it is polled). EOF comes
    /// once every process of the container is gone.
    public static func openDaemonOutput(_ path: String) throws(BerthError) -> Int32 {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", path) }
        return fd
    }

    /// stdin's two ends: the container's reads (blocking), berthd's writes (non-blocking).
    /// Only berthd's end (and a holder's copy of it) writes, so closing them is the
    /// container's EOF.
    public static func openStdin(_ path: String) throws(BerthError) -> (container: Int32, daemon: Int32) {
        try make(path)
        // Non-blocking first: a blocking read-only open waits for a writer.
        let reader = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard reader >= 0 else { throw failure("open", path) }
        let writer = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard writer >= 0 else {
            let error = failure("open", path)
            close(reader)
            throw error
        }
        let flags = fcntl(reader, F_GETFL)
        _ = fcntl(reader, F_SETFL, flags & ~O_NONBLOCK)
        _ = fcntl(writer, fcntlSetPipeSize, pipeBufferSize)
        return (reader, writer)
    }

    /// Removes the FIFOs of `directory` (a start makes them again).
    public static func remove(in directory: String) {
        for name in [stdoutName, stderrName, stdinName] { unlink(directory + "/" + name) }
    }

    private static func make(_ path: String) throws(BerthError) {
        var info = stat()
        if lstat(path, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFIFO { return }
            unlink(path)  // not ours to keep: only berth writes this name
        }
        guard mkfifo(path, 0o600) == 0 || errno == EEXIST else { throw failure("mkfifo", path) }
    }

    private static func failure(_ call: String, _ path: String) -> BerthError {
        BerthError(.internal, "\(call) \(path): \(String(cString: strerror(errno)))")
    }
}

/// F_SETPIPE_SZ (Linux; Glibc exports it only with _GNU_SOURCE).
let fcntlSetPipeSize: Int32 = 1031

/// Writes all of `bytes` to a non-blocking descriptor, waiting while it is full. Returns
/// false when the reader is gone (EPIPE) or the descriptor fails.
public func writeAll(_ fd: Int32, _ bytes: [UInt8]) async -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { buffer -> Int in
            guard let base = buffer.baseAddress else { return 0 }
            return write(fd, base + offset, buffer.count - offset)
        }
        if written > 0 {
            offset += written
        } else if written < 0, errno == EAGAIN || errno == EINTR {
            // The container is not reading: wait for it without holding a thread.
            do { try await Task.sleep(for: .milliseconds(5)) } catch { return false }
        } else {
            return false
        }
    }
    return true
}

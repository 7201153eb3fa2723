import BerthCore
import Foundation
import Synchronization

/// Reads every container's output descriptors (FIFO read ends, pty masters) on one thread
/// with poll(2), so a thousand containers cost one thread rather than two thousand.
/// libdispatch read sources are not used: they crashed berthd in their epoll drain when a
/// terminal's master hung up.
///
/// Each descriptor is read until its end: EOF (no writer left) or an error such as EIO from a
/// master whose terminal every process has closed. Then it is closed and `onClosed` runs.
/// Callbacks run on the poll thread: keep them short (a log append, yielding to streams).
final class OutputPoller: Sendable {
    typealias DataHandler = @Sendable ([UInt8]) -> Void
    typealias ClosedHandler = @Sendable () -> Void

    private struct Reader {
        var onData: DataHandler
        var onClosed: ClosedHandler
    }

    private struct State {
        var readers: [Int32: Reader] = [:]
        var running = false
    }

    /// Reads per ready descriptor per round, so one chatty container cannot starve the others.
    private static let readsPerRound = 4
    private static let chunkSize = 64 * 1024

    private let state = Mutex(State())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// Without a wake-up pipe (no descriptor left at start) the thread looks for new
    /// descriptors every 50 ms instead.
    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        for fd in fds where fd >= 0 {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    /// Reads `fd` (owned from now on) until its end.
    func add(_ fd: Int32, onData: @escaping DataHandler, onClosed: @escaping ClosedHandler) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let start = state.withLock { state -> Bool in
            state.readers[fd] = Reader(onData: onData, onClosed: onClosed)
            defer { state.running = true }
            return !state.running
        }
        if start {
            let thread = Thread { [self] in run() }
            thread.name = "berth-output"
            thread.start()
        } else {
            wake()
        }
    }

    var count: Int { state.withLock { $0.readers.count } }

    private func wake() {
        guard wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // EAGAIN: a wake-up is already pending
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        while true {
            let watched = state.withLock { Array($0.readers.keys) }
            var set = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            set += watched.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            // poll skips a negative descriptor: without the wake-up pipe, a timeout instead.
            let ready = poll(&set, nfds_t(set.count), wakeRead >= 0 ? -1 : 50)
            if ready < 0 {
                if errno != EINTR { usleep(10_000) }  // should not happen; never spin
                continue
            }
            if wakeRead >= 0, set[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while read(wakeRead, &drain, drain.count) > 0 {}
            }
            for entry in set.dropFirst() where entry.revents != 0 {
                drainReady(entry.fd, &buffer)
            }
        }
    }

    /// Reads what `fd` has now; at its end, forgets and closes it and says so.
    private func drainReady(_ fd: Int32, _ buffer: inout [UInt8]) {
        guard let reader = state.withLock({ $0.readers[fd] }) else { return }
        for _ in 0..<Self.readsPerRound {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                reader.onData(Array(buffer[0..<count]))
                if count < buffer.count { return }
                continue
            }
            if count < 0, errno == EAGAIN || errno == EINTR { return }
            // EOF, or EIO from a hung-up terminal: this descriptor's output is complete.
            state.withLock { _ = $0.readers.removeValue(forKey: fd) }
            close(fd)
            reader.onClosed()
            return
        }
    }
}

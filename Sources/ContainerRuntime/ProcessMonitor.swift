import BerthCore
import CLinux
import Foundation
import Synchronization

/// Reports when container init processes exit, from one dedicated thread.
///
/// Each watched process is held by a pidfd, so a pid reused after exit is never confused with
/// the original. When a pidfd turns readable the status is collected with
/// `waitid(P_PIDFD, …, WEXITED)`: with PR_SET_CHILD_SUBREAPER set in the daemon, container inits
/// become its children once `runc run --detach` exits, and this reaps them.
///
/// When the status cannot be known the monitor reports `unknownExitCode` (255, the value
/// Docker shows when a container's exit status was lost): the process is not our child
/// (started by an earlier daemon instance, so waitid says ECHILD), it was gone before
/// `watch` (pidfd_open says ESRCH), or its pid now belongs to another process.
///
/// The thread waits with poll(2) rather than epoll: Swift's Glibc module does not expose
/// epoll, and poll over pidfds is equivalent at the scale of one daemon's containers.
/// It never calls waitpid(-1), which would steal children Foundation.Process is waiting for;
/// for the same reason, never watch a process started with Foundation.Process.
public final class ProcessMonitor: Sendable {
    public static let unknownExitCode: Int32 = 255

    private let core: MonitorCore

    public init() throws {
        core = try MonitorCore()
        let core = self.core
        let thread = Thread { core.run() }
        thread.name = "berth-process-monitor"
        thread.start()
    }

    /// Outstanding watches are dropped without callbacks.
    deinit { core.stop() }

    /// Calls `onExit` once, on the monitor thread, with the exit code (128+signal when killed).
    /// Keep the callback short; hand real work to another queue or task.
    /// `startTime` (from `startTime(pid:)` when the process was started) guards against a pid
    /// that was reused while the daemon was down: a mismatch reports `unknownExitCode` at once.
    public func watch(pid: Int32, startTime: UInt64? = nil, onExit: @escaping @Sendable (Int32) -> Void) throws {
        guard pid > 0 else { throw BerthError.invalid("cannot watch pid \(pid)") }
        try core.watch(pid: pid, startTime: startTime, onExit: onExit)
    }

    /// Stops watching `pid` without a callback (the process is not reaped by us then).
    public func cancel(pid: Int32) { core.cancel(pid: pid) }

    /// Signals a watched process through its pidfd (so never a process that reused its
    /// pid); false when `pid` is not watched or the signal could not be sent.
    public func signal(pid: Int32, _ signal: Int32) -> Bool { core.signal(pid: pid, signal) }

    public var watchedPIDs: Set<Int32> { core.watchedPIDs }
}

final class MonitorCore: Sendable {
    typealias Callback = @Sendable (Int32) -> Void

    private struct Watch {
        var pidfd: Int32
        var callbacks: [Callback]
    }

    private struct State {
        var watches: [Int32: Watch] = [:]
        /// Reports decided outside the thread (process already gone); delivered by the thread.
        var immediate: [(callbacks: [Callback], code: Int32)] = []
        /// pidfds cancelled while possibly inside poll(); only the thread closes them.
        var toClose: [Int32] = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw BerthError(.kernel, "process monitor: pipe failed: \(errnoText(errno))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    var watchedPIDs: Set<Int32> { state.withLock { Set($0.watches.keys) } }

    func watch(pid: Int32, startTime: UInt64?, onExit: @escaping Callback) throws {
        let pidfd = berth_pidfd_open(pid)
        if pidfd < 0 {
            let code = errno
            guard code == ESRCH else {
                throw BerthError(.kernel, "pidfd_open(\(pid)) failed: \(errnoText(code))")
            }
            deliverSoon([onExit], code: ProcessMonitor.unknownExitCode)
            return
        }
        _ = fcntl(pidfd, F_SETFD, FD_CLOEXEC)
        // The pidfd pins this pid, so checking the start time now is race-free.
        if let startTime, ProcessMonitor.startTime(pid: pid) != startTime {
            close(pidfd)
            deliverSoon([onExit], code: ProcessMonitor.unknownExitCode)
            return
        }
        let duplicate = state.withLock { state -> Bool in
            if state.watches[pid] != nil {
                state.watches[pid]?.callbacks.append(onExit)
                return true
            }
            state.watches[pid] = Watch(pidfd: pidfd, callbacks: [onExit])
            return false
        }
        if duplicate { close(pidfd) } // never polled, safe to close here
        wake()
    }

    func signal(pid: Int32, _ signal: Int32) -> Bool {
        // Under the lock: the thread closes a pidfd only after taking it out of `watches`.
        state.withLock { state in
            guard let watch = state.watches[pid] else { return false }
            return berth_pidfd_send_signal(watch.pidfd, signal) == 0
        }
    }

    func cancel(pid: Int32) {
        state.withLock { state in
            guard let watch = state.watches.removeValue(forKey: pid) else { return }
            state.toClose.append(watch.pidfd)
        }
        wake()
    }

    func stop() {
        state.withLock { $0.stopped = true }
        wake()
    }

    private func deliverSoon(_ callbacks: [Callback], code: Int32) {
        state.withLock { $0.immediate.append((callbacks, code)) }
        wake()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1) // EAGAIN means a wake-up is already pending
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    /// The monitor thread's loop.
    func run() {
        while true {
            let (watched, immediate, toClose, stopped) = state.withLock { state in
                defer { state.immediate = []; state.toClose = [] }
                return (state.watches.map { ($0.key, $0.value.pidfd) }, state.immediate, state.toClose, state.stopped)
            }
            for fd in toClose { close(fd) }
            for report in immediate { report.callbacks.forEach { $0(report.code) } }
            if stopped {
                watched.forEach { close($0.1) }
                close(wakeRead)
                close(wakeWrite)
                return
            }

            var pollSet = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            pollSet += watched.map { pollfd(fd: $0.1, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&pollSet, nfds_t(pollSet.count), -1)
            if ready < 0 {
                if errno != EINTR { usleep(10_000) } // should not happen; avoid spinning
                continue
            }
            if pollSet[0].revents != 0 { drainWakePipe() }
            for (index, entry) in watched.enumerated() where pollSet[index + 1].revents != 0 {
                let (pid, pidfd) = entry
                // Cancelled meanwhile: leave the process alone, the fd is closed via toClose.
                let callbacks = state.withLock { state -> [Callback]? in
                    guard let watch = state.watches[pid], watch.pidfd == pidfd else { return nil }
                    state.watches[pid] = nil
                    return watch.callbacks
                }
                guard let callbacks else { continue }
                let code = Self.collectExit(pidfd: pidfd)
                close(pidfd)
                callbacks.forEach { $0(code) }
            }
        }
    }

    /// Reaps the exited process behind a readable pidfd; unknownExitCode if it is not our child.
    static func collectExit(pidfd: Int32) -> Int32 {
        let pPIDFD = idtype_t(rawValue: 3) // P_PIDFD (Linux 5.4); not in glibc 2.36's headers
        var info = siginfo_t()
        var result: Int32
        repeat {
            result = waitid(pPIDFD, id_t(pidfd), &info, WEXITED | WNOHANG)
        } while result != 0 && errno == EINTR
        if result == 0, info._sifields._sigchld.si_pid == 0 {
            // Readable means exited, so this returns at once.
            repeat {
                result = waitid(pPIDFD, id_t(pidfd), &info, WEXITED)
            } while result != 0 && errno == EINTR
        }
        guard result == 0 else { return ProcessMonitor.unknownExitCode } // ECHILD: not ours to reap
        let status = info._sifields._sigchld.si_status
        switch info.si_code {
        case Int32(CLD_EXITED): return status
        case Int32(CLD_KILLED), Int32(CLD_DUMPED): return 128 + status
        default: return ProcessMonitor.unknownExitCode
        }
    }
}

extension ProcessMonitor {
    /// The process start time (clock ticks after boot, field 22 of /proc/<pid>/stat). Together with
    /// the pid it names one process for the machine's uptime, so it survives daemon restarts.
    public static func startTime(pid: Int32) -> UInt64? {
        procStat(pid: pid)?.startTime
    }

    /// True when `pid` exists, is not a zombie, and is the process that started at `startTime`.
    public static func isAlive(pid: Int32, startTime: UInt64) -> Bool {
        guard pid > 0, let stat = procStat(pid: pid) else { return false }
        return stat.startTime == startTime && stat.state != "Z" && stat.state != "X"
    }

    static func procStat(pid: Int32) -> (state: Character, startTime: UInt64)? {
        guard let text = ProcFile.read("/proc/\(pid)/stat") else { return nil }
        return parseProcStat(text)
    }

    /// The command name (field 2) may contain spaces and ')' so fields are counted from the last ')'.
    static func parseProcStat(_ text: String) -> (state: Character, startTime: UInt64)? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return (state, start)
    }
}

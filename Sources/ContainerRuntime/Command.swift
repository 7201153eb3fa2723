import BerthCore
import CLinux
import Dispatch
import Foundation
import Synchronization

/// A finished helper program: its exit status (128+signal when killed, as shells report it)
/// and whatever output was captured.
struct CommandOutput: Sendable {
    var status: Int32
    var stdout: Data
    var stderr: Data

    /// stderr (or stdout when stderr is empty) as one trimmed line for error messages.
    var diagnostic: String {
        let text = String(decoding: stderr.isEmpty ? stdout : stderr, as: UTF8.self)
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Runs helper programs (tar, cp, runc) with posix_spawn, not Foundation.Process, whose
/// Linux version costs time in proportion to the daemon's open descriptors (it lists
/// /proc/self/fd and adds one close action per descriptor; berthd holds one or more per
/// running container) and, when run() is called on a thread without a running run loop,
/// never releases the Process with its pipes and file handles. Children are reaped by pid
/// (waitid P_PID), which is why nothing in this target may call waitpid(-1).
enum Command {
    /// Runs to completion. Output not redirected to a caller's handle is captured; both pipes are
    /// drained concurrently so a chatty child can never block on a full pipe.
    static func run(
        _ executable: String, _ arguments: [String],
        stdin: FileHandle? = nil, stdout: FileHandle? = nil, stderr: FileHandle? = nil,
        in namespace: LaunchNamespace? = nil
    ) throws -> CommandOutput {
        let child = try spawn(executable, arguments, stdin: stdin, stdout: stdout, stderr: stderr, in: namespace)
        let errorReader = child.stderrPipe.map { BackgroundReader($0) }
        let out = child.stdoutPipe?.readDataToEndOfFile() ?? Data()
        let err = errorReader?.wait() ?? Data()
        // Both read to their end: closing only releases the descriptors, nothing is lost.
        try? child.stdoutPipe?.close()
        try? child.stderrPipe?.close()
        return CommandOutput(status: reap(child.pid), stdout: out, stderr: err)
    }

    struct Started {
        var pid: Int32
        var latch: ExitLatch
        /// Read ends of the child's stdout and stderr when the caller gave no handle.
        var stdoutPipe: FileHandle?
        var stderrPipe: FileHandle?
    }

    /// Starts a child; a nil stdout/stderr handle means "give me a pipe". stdin defaults to /dev/null.
    /// The latch opens once the child is reaped, by a thread of its own.
    static func start(
        _ executable: String, _ arguments: [String],
        stdin: FileHandle?, stdout: FileHandle?, stderr: FileHandle?,
        in namespace: LaunchNamespace? = nil
    ) throws -> Started {
        let child = try spawn(executable, arguments, stdin: stdin, stdout: stdout, stderr: stderr, in: namespace)
        let latch = ExitLatch()
        let pid = child.pid
        Thread { latch.finish(reap(pid)) }.start()
        return Started(pid: pid, latch: latch, stdoutPipe: child.stdoutPipe, stderrPipe: child.stderrPipe)
    }

    /// Starts a child nobody here reaps: the caller hands its pid to the `ProcessMonitor`
    /// (a holder process lives as long as a container; a thread each would be wasted).
    static func startUnreaped(_ executable: String, _ arguments: [String], stdin: FileHandle) throws -> Int32 {
        let null = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/null"))
        defer { try? null.close() }
        return try spawn(executable, arguments, stdin: stdin, stdout: null, stderr: null, in: nil).pid
    }

    private struct Spawned {
        var pid: Int32
        var stdoutPipe: FileHandle?
        var stderrPipe: FileHandle?
    }

    /// posix_spawn with the child's stdio set up and every other descriptor closed
    /// (closefrom: constant cost however many the daemon has open). The child gets an empty
    /// signal mask: libdispatch worker threads, which also run Swift concurrency tasks, block
    /// almost every signal, and runc would pass that mask on to the container, whose
    /// processes would then ignore SIGTERM and never see SIGCHLD (the live runc test checks this).
    /// With a namespace, the child is spawned from its thread and starts in its mount table.
    private static func spawn(
        _ executable: String, _ arguments: [String],
        stdin: FileHandle?, stdout: FileHandle?, stderr: FileHandle?,
        in namespace: LaunchNamespace?
    ) throws -> Spawned {
        var opened: [Int32] = []  // the parent's copies, closed once the child has its own
        defer { for fd in opened { close(fd) } }
        func pipeEnds() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else {
                throw BerthError(.unavailable, "cannot start \(executable): pipe: \(errnoText(errno))")
            }
            // Our children close what they do not need anyway (closefrom).
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return (fds[0], fds[1])
        }
        let input: Int32
        if let stdin {
            input = stdin.fileDescriptor
        } else {
            input = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard input >= 0 else { throw BerthError(.unavailable, "cannot start \(executable): /dev/null: \(errnoText(errno))") }
            opened.append(input)
        }
        var outRead: Int32 = -1
        var errRead: Int32 = -1
        var ok = false
        defer {
            if !ok {
                if outRead >= 0 { close(outRead) }
                if errRead >= 0 { close(errRead) }
            }
        }
        // The given handle, or a pipe whose read end the caller keeps.
        func target(_ handle: FileHandle?, readEnd: inout Int32) throws -> Int32 {
            if let handle { return handle.fileDescriptor }
            let ends = try pipeEnds()
            readEnd = ends.read
            opened.append(ends.write)
            return ends.write
        }
        let output = try target(stdout, readEnd: &outRead)
        let error = try target(stderr, readEnd: &errRead)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let (result, pid) = try argv.withUnsafeBufferPointer { pointers in
            let arguments = pointers.baseAddress
            let spawnChild = { () -> (Int32, pid_t) in
                var child: pid_t = 0
                let result = berth_spawn(&child, executable, arguments, environ, input, output, error)
                return (result, child)
            }
            return try namespace.map { try $0.perform(spawnChild) } ?? spawnChild()
        }
        guard result == 0 else {
            throw BerthError(.unavailable, "cannot start \(executable): \(errnoText(result))")
        }
        ok = true
        return Spawned(pid: pid,
                       stdoutPipe: outRead >= 0 ? FileHandle(fileDescriptor: outRead, closeOnDealloc: true) : nil,
                       stderrPipe: errRead >= 0 ? FileHandle(fileDescriptor: errRead, closeOnDealloc: true) : nil)
    }

    /// Waits for the child and returns its exit status (128+signal when killed).
    private static func reap(_ pid: Int32) -> Int32 {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED) != 0 {
            if errno != EINTR { return -1 }
        }
        let status = info._sifields._sigchld.si_status
        switch info.si_code {
        case Int32(CLD_EXITED): return status
        case Int32(CLD_KILLED), Int32(CLD_DUMPED): return 128 + status
        default: return -1
        }
    }
}

/// A value shared between threads behind a lock.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}

/// Exit status handed from Foundation's termination thread to blocking or async waiters.
final class ExitLatch: Sendable {
    private struct State {
        var status: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }

    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    func finish(_ status: Int32) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int32, Never>] in
            guard state.status == nil else { return [] }
            state.status = status
            defer { state.waiters = [] }
            return state.waiters
        }
        done.signal()
        for waiter in waiters { waiter.resume(returning: status) }
    }

    var status: Int32? { state.withLock { $0.status } }

    /// Blocks the calling thread until the child has been reaped.
    func wait() -> Int32 {
        if let status { return status }
        done.wait()
        done.signal() // pass the wake-up on to any other blocked waiter
        return status ?? -1
    }

    func value() async -> Int32 {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// Drains a pipe on its own thread; `wait()` returns everything read until EOF.
final class BackgroundReader: Sendable {
    private let result = Locked<Data?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        let thread = Thread { [result, done] in
            result.value = handle.readDataToEndOfFile()
            done.signal()
        }
        thread.start()
    }

    func wait() -> Data {
        done.wait()
        done.signal()
        return result.value ?? Data()
    }
}

/// strerror text for an errno value.
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

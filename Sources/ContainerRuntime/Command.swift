import BerthCore
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

/// Runs helper programs (tar, cp, runc) through Foundation.Process. Foundation reaps its own
/// children by pid, which is why nothing in this target may call waitpid(-1).
enum Command {
    /// Runs to completion. Output not redirected to a caller's handle is captured; both pipes are
    /// drained concurrently so a chatty child can never block on a full pipe.
    static func run(
        _ executable: String, _ arguments: [String],
        stdin: FileHandle? = nil, stdout: FileHandle? = nil, stderr: FileHandle? = nil
    ) throws -> CommandOutput {
        let child = try start(executable, arguments, stdin: stdin, stdout: stdout, stderr: stderr)
        let errorReader = child.stderrPipe.map { BackgroundReader($0.fileHandleForReading) }
        let out = child.stdoutPipe?.fileHandleForReading.readDataToEndOfFile() ?? Data()
        let err = errorReader?.wait() ?? Data()
        let status = child.latch.wait()
        return CommandOutput(status: status, stdout: out, stderr: err)
    }

    struct Started {
        var process: Process
        var latch: ExitLatch
        var stdoutPipe: Pipe?
        var stderrPipe: Pipe?
    }

    /// Starts a child; a nil stdout/stderr handle means "give me a pipe". stdin defaults to /dev/null.
    static func start(
        _ executable: String, _ arguments: [String],
        stdin: FileHandle?, stdout: FileHandle?, stderr: FileHandle?
    ) throws -> Started {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = stdin ?? FileHandle.nullDevice
        let outPipe = stdout == nil ? Pipe() : nil
        let errPipe = stderr == nil ? Pipe() : nil
        process.standardOutput = stdout ?? outPipe
        process.standardError = stderr ?? errPipe
        let latch = ExitLatch()
        // Set before run(): Foundation calls it on its own thread once it has reaped the child.
        process.terminationHandler = { finished in
            let code = finished.terminationReason == .uncaughtSignal
                ? 128 + finished.terminationStatus : finished.terminationStatus
            latch.finish(code)
        }
        do {
            try runWithCleanSignalMask(process)
        } catch {
            throw BerthError(.unavailable, "cannot start \(executable)", cause: error)
        }
        return Started(process: process, latch: latch, stdoutPipe: outPipe, stderrPipe: errPipe)
    }
}

/// posix_spawn copies the calling thread's signal mask into the child, and libdispatch worker
/// threads (which also run Swift concurrency tasks) block almost every signal. runc passes that
/// mask on to the container, whose processes would then ignore SIGTERM and never see SIGCHLD
/// (the live runc test checks this). So the spawn happens on a short-lived thread whose mask is
/// empty. A process-directed signal could be delivered to that thread while it exists, so the
/// daemon should not rely on one thread being the only one with a signal unblocked.
private func runWithCleanSignalMask(_ process: Process) throws {
    let outcome = Locked<Result<Void, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        outcome.value = Result { try process.run() }
        done.signal()
    }
    thread.start()
    done.wait()
    try outcome.value?.get()
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

import Dispatch
import Glibc
import Synchronization

/// One OS thread, started once, that runs submitted jobs one at a time in submission
/// order, each with the thread's `Context`.
///
/// Why a thread of its own: some state is bound to the thread that made it or uses it
/// (a namespace entered with setns or unshare, sockets opened inside one), and a Swift
/// concurrency pool thread may change under a task at every `await`. The context is made
/// on the thread and never leaves it: it lives in the thread's own stack frame and jobs
/// borrow it, so it needs no lock and need not be Sendable.
///
/// An optional `idle` step runs after every batch of jobs and again once the delay it
/// returns has passed without jobs (nil: only after the next job), for work that polls
/// the kernel.
///
/// Releasing the last reference ends the thread after the jobs already queued.
public final class DedicatedThread<Context>: Sendable {
    private let core: Core<Context>
    private let handle: pthread_t

    /// Starts the thread, names it (the name shows in /proc/<pid>/task/<tid>/comm, at most
    /// 15 bytes kept) and builds the context on it. Throws what `makeContext` threw, the
    /// thread then having ended, or `DedicatedThreadError.cannotStart`.
    public init(
        name: String,
        makeContext: @escaping @Sendable () throws -> Context,
        idle: (@Sendable (inout Context) -> Duration?)? = nil
    ) throws {
        let core = Core<Context>()
        let ready = DispatchSemaphore(value: 0)
        let startError = Mutex<(any Error)?>(nil)
        let threadName = Self.truncated(name)
        let start = ThreadStart {
            Self.nameThisThread(threadName)
            var context: Context
            do {
                context = try makeContext()
            } catch {
                startError.withLock { $0 = error }
                ready.signal()
                return
            }
            ready.signal()
            core.serve(&context, idle: idle)
        }
        guard let thread = start.launch() else { throw DedicatedThreadError.cannotStart(name) }
        ready.wait()
        if let error = startError.withLock({ $0 }) { throw error }
        self.core = core
        self.handle = thread
    }

    deinit { core.stop() }

    /// Queues `job` and returns at once.
    public func submit(_ job: @escaping @Sendable (inout Context) -> Void) {
        core.enqueue(Job(body: job))
    }

    /// Runs `job` on the thread and returns its result or throws its error.
    public func run<T: Sendable>(_ job: @escaping @Sendable (inout Context) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            core.enqueue(Job { context in continuation.resume(with: Result { try job(&context) }) })
        }
    }

    /// Runs `job` on the thread and blocks the caller until it is done: for callers that
    /// are not on the concurrency pool (start-up, a thread of their own) or must not
    /// suspend. Throws `DedicatedThreadError.calledFromOwnThread` from a job of this
    /// thread, which would otherwise wait for itself forever.
    public func perform<T>(_ job: @escaping (inout Context) throws -> T) throws -> T {
        guard pthread_equal(pthread_self(), handle) == 0 else { throw DedicatedThreadError.calledFromOwnThread }
        let done = DispatchSemaphore(value: 0)
        // Written on the thread before `done` is signalled, read here only after.
        nonisolated(unsafe) var outcome: Result<T, any Error>?
        core.enqueue(Job { context in
            outcome = Result { try job(&context) }
            done.signal()
        })
        done.wait()
        guard let outcome else { throw DedicatedThreadError.lostResult }
        return try outcome.get()
    }

    /// What pthread_setname_np does (Glibc's module does not export it): the kernel
    /// keeps a thread's name as its comm. Best effort: a name is only for people and tools.
    private static func nameThisThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = name.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    /// Thread names hold 15 bytes; the kernel cuts longer ones, possibly mid-character.
    static func truncated(_ name: String) -> String {
        var result = ""
        for character in name {
            guard result.utf8.count + String(character).utf8.count <= 15 else { break }
            result.append(character)
        }
        return result
    }
}

public enum DedicatedThreadError: Error, Equatable, CustomStringConvertible {
    case cannotStart(String)
    case calledFromOwnThread
    case lostResult

    public var description: String {
        switch self {
        case .cannotStart(let name): "cannot start the thread \(name)"
        case .calledFromOwnThread: "a dedicated thread's job waited for another job of the same thread"
        case .lostResult: "a dedicated thread's job finished without a result"
        }
    }
}

/// A queued job; it may capture what is not Sendable (a blocked caller's locals).
struct Job<Context>: @unchecked Sendable {
    // @unchecked: made by one caller, run once on the thread, never shared further.
    let body: (inout Context) -> Void
}

/// The queue shared by the handle and the thread; the thread keeps it alive while it runs.
final class Core<Context>: Sendable {
    private struct Queue {
        var jobs: [Job<Context>] = []
        var stopping = false
    }

    private let queue = Mutex(Queue())
    private let wakeup = DispatchSemaphore(value: 0)

    func enqueue(_ job: Job<Context>) {
        queue.withLock { $0.jobs.append(job) }
        wakeup.signal()
    }

    func stop() {
        queue.withLock { $0.stopping = true }
        wakeup.signal()
    }

    /// The thread's loop. Each wake-up takes every queued job at once, so a burst costs
    /// one idle step, not one per job. The signals of jobs an earlier batch took wake it
    /// to an empty queue: it then waits again for the same idle deadline.
    func serve(_ context: inout Context, idle: (@Sendable (inout Context) -> Duration?)?) {
        // When the idle step is due if no job comes first; nil: only after jobs.
        var idleDeadline: DispatchTime?
        while true {
            var timedOut = false
            if let idleDeadline {
                timedOut = wakeup.wait(timeout: idleDeadline) == .timedOut
            } else {
                wakeup.wait()
            }
            let (batch, stopping) = queue.withLock { queue in
                defer { queue.jobs = [] }
                return (queue.jobs, queue.stopping)
            }
            for job in batch { job.body(&context) }
            if stopping { return }
            guard let idle, timedOut || !batch.isEmpty else { continue }
            idleDeadline = idle(&context).map { .now() + Self.dispatchInterval($0) }
        }
    }

    /// A Duration as Dispatch's interval, clamped to [0, 1 hour] so no input can overflow.
    static func dispatchInterval(_ duration: Duration) -> DispatchTimeInterval {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return .nanoseconds(0) }
        guard seconds < 3600 else { return .seconds(3600) }
        return .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    }
}

/// Starts a detached pthread running `body`; Foundation's Thread is not needed for that.
private final class ThreadStart: Sendable {
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    /// The new thread's handle, or nil when the system would not start one.
    func launch() -> pthread_t? {
        let retained = Unmanaged.passRetained(self)
        var handle = pthread_t()
        let started = pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<ThreadStart>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, retained.toOpaque())
        guard started == 0 else {
            retained.release()
            return nil
        }
        pthread_detach(handle)
        return handle
    }
}

import BerthCore
import CLinux
import Glibc
import Synchronization
import Threads

/// One OS thread that does all network-namespace work, so a `setns` never happens on a
/// thread shared with the Swift concurrency pool and never spans an `await`.
///
/// The thread owns a `Context` (typically netlink sockets) created on it at start; jobs
/// receive it, and it never leaves the thread. Every job starts and ends in the thread's
/// home namespace: `NamespaceScope.inside` restores it even when the job throws.
public final class NamespaceThread<Context>: Sendable {
    private let thread: DedicatedThread<Context>
    private let homeNamespace: Int32
    private let poisoned = Atomic<Bool>(false)

    /// Starts the thread and builds the context on it.
    public init(name: String, makeContext: @escaping @Sendable () throws -> Context) throws(BerthError) {
        let home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else {
            throw BerthError(.internal, "cannot open the daemon's network namespace: \(errnoText())")
        }
        do {
            thread = try DedicatedThread(name: name, makeContext: makeContext)
        } catch {
            close(home)
            throw BerthError.wrap(error, "starting \(name)")
        }
        homeNamespace = home
    }

    /// Runs `body` on the namespace thread and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable (borrowing NamespaceScope<Context>) throws -> T) async throws -> T {
        try await thread.run { context in try self.execute(context, body) }
    }

    /// Runs `body` on the namespace thread and blocks the caller until it is done; for
    /// synchronous callers (start-up, tests).
    public func runBlocking<T: Sendable>(_ body: @escaping @Sendable (borrowing NamespaceScope<Context>) throws -> T) throws -> T {
        try thread.perform { context in try self.execute(context, body) }
    }

    private func execute<T>(_ context: Context, _ body: (borrowing NamespaceScope<Context>) throws -> T) throws -> T {
        guard !poisoned.load(ordering: .relaxed) else {
            throw BerthError(.internal, "the namespace thread lost its home namespace")
        }
        // Whatever the job did, the thread goes home before the next job.
        defer {
            if berth_setns(homeNamespace, berth_clone_newnet()) != 0 {
                poisoned.store(true, ordering: .relaxed)
            }
        }
        return try body(NamespaceScope(context: context, home: homeNamespace))
    }
}

/// What a job on the namespace thread may use: the thread's context and namespace switching.
public struct NamespaceScope<Context>: ~Copyable {
    public let context: Context
    let home: Int32

    /// Runs `body` inside the namespace `fd` refers to, then returns home.
    /// Requires CAP_SYS_ADMIN.
    public func inside<T>(namespace fd: Int32, _ body: () throws -> T) throws -> T {
        guard berth_setns(fd, berth_clone_newnet()) == 0 else {
            throw BerthError(.kernel, "cannot enter network namespace: \(errnoText())")
        }
        defer { _ = berth_setns(home, berth_clone_newnet()) }
        return try body()
    }

    /// Creates a network namespace, bound to `path` so it outlives every process in it,
    /// runs `body` inside it (open sockets there: they stay bound to it), and returns
    /// home. On failure nothing is left behind. Requires CAP_SYS_ADMIN.
    public func createNamespace<T>(at path: String, _ body: (NamespaceFile) throws -> T) throws -> T {
        let created = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        guard created >= 0 else {
            throw BerthError(.kernel, "cannot create namespace file \(path): \(errnoText())")
        }
        close(created)
        var mounted = false
        do {
            guard berth_unshare(berth_clone_newnet()) == 0 else {
                throw BerthError(.kernel, "cannot create a network namespace: \(errnoText())")
            }
            defer { _ = berth_setns(home, berth_clone_newnet()) }
            guard mount("/proc/thread-self/ns/net", path, "none", UInt(MS_BIND), nil) == 0 else {
                throw BerthError(.kernel, "cannot bind network namespace to \(path): \(errnoText())")
            }
            mounted = true
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw BerthError(.kernel, "cannot open namespace \(path): \(errnoText())")
            }
            let file = NamespaceFile(path: path, fd: fd)
            do {
                return try body(file)
            } catch {
                close(fd)
                throw error
            }
        } catch {
            if mounted { umount2(path, Int32(MNT_DETACH)) }
            unlink(path)
            throw error
        }
    }
}

/// A namespace bound to a file, with an open descriptor to it.
public struct NamespaceFile: Sendable {
    public let path: String
    public let fd: Int32

    public init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Opens an existing namespace file.
    public static func open(path: String) throws(BerthError) -> NamespaceFile {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BerthError(.notFound, "cannot open network namespace \(path): \(errnoText())") }
        return NamespaceFile(path: path, fd: fd)
    }

    public func close() { _ = Glibc.close(fd) }

    /// Unbinds and deletes a namespace file. The namespace itself goes away when the
    /// last process and descriptor using it are gone. Missing files are fine.
    public static func remove(path: String) {
        umount2(path, Int32(MNT_DETACH))
        unlink(path)
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }

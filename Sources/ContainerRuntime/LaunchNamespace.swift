import BerthCore
import CLinux
import Glibc
import Threads

/// A mount namespace of the daemon's own, held by one thread, in which runc is started
/// and container roots are mounted.
///
/// Why: runc reads the whole mount table several times per start, and a container's
/// mount namespace begins as a copy of runc's, so every mount in runc's table costs each
/// start about 30 µs. In the host's table every running container added two (its root and
/// its network namespace file), other tools add theirs (Docker: two per container), so
/// starts grew slower as the host filled: 85 ms at 500 containers against 47 ms empty.
///
/// The namespace keeps only what runc and containers need (`MountPlan`): the root file
/// system, the system trees (programs, libraries, /proc, /sys, /dev) and the mounts
/// holding the daemon's directories, without its namespace files. It is private, so mounts
/// made on the host later never reach it. A container's root is mounted here only for the
/// moment runc needs it and never appears in the host's table; runc joins a network
/// namespace through the daemon's descriptor for it.
public final class LaunchNamespace: Sendable {
    private struct State {
        /// Set when trimming the table failed: every job then fails with it.
        var trimError: BerthError?
    }

    private let thread: DedicatedThread<State>

    /// Starts the thread and moves it into a new, private mount namespace, then trims it
    /// to `plan`. Only entering is waited for: trimming (a few milliseconds per thousand
    /// mounts on the host) goes on while the daemon starts, and jobs wait behind it.
    public init(plan: MountPlan) throws(BerthError) {
        do {
            // The thread's name in /proc (comm) is what tools and tests see.
            thread = try DedicatedThread(name: "berth-launch", makeContext: {
                if let error = Self.enterNewNamespace() { throw error }
                return State()
            })
        } catch let error as BerthError {
            throw error
        } catch {
            throw BerthError(.internal, "cannot start the launch namespace's thread", cause: error)
        }
        // The first job: every later one runs after it.
        thread.submit { state in state.trimError = Self.trim(to: plan) }
    }

    /// Runs `body` on the namespace's thread; the caller blocks until it is done. Meant for
    /// short work (a mount, a posix_spawn): one job runs at a time.
    public func perform<T>(_ body: @escaping () throws -> T) throws -> T {
        try thread.perform { state in
            if let error = state.trimError { throw error }
            return try body()
        }
    }

    private static func enterNewNamespace() -> BerthError? {
        // CLONE_NEWNS implies CLONE_FS: only this thread leaves the host's mount table.
        guard berth_unshare(berth_clone_newns()) == 0 else {
            return BerthError(.internal, "cannot create the launch mount namespace: \(errnoText(errno))")
        }
        guard mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil) == 0 else {
            return BerthError(.internal, "cannot make the launch mount namespace private: \(errnoText(errno))")
        }
        // The thread's working directory may be on a mount about to be detached.
        _ = chdir("/")
        return nil
    }

    private static func trim(to plan: MountPlan) -> BerthError? {
        for path in plan.mountsToDetach(MountTable.mountPoints(ofThisThread: true)) {
            // EINVAL: already gone with a mount above it.
            if umount2(path, Int32(MNT_DETACH)) != 0, errno != EINVAL, errno != ENOENT {
                return BerthError(.internal, "cannot detach \(path) in the launch mount namespace: \(errnoText(errno))")
            }
        }
        return nil
    }
}

/// Which mounts the launch namespace keeps. A mount stays when it is the root, holds a
/// needed path (is at or above it), lies below a needed path, or lies in a kept tree;
/// anything at or below a hidden path goes, as does everything else.
public struct MountPlan: Sendable, Equatable {
    public var needed: [String]
    public var keptTrees: [String]
    public var hidden: [String]

    /// The system trees runc and a container's start use: programs and libraries, their
    /// configuration, and the kernel's file systems (cgroups are below /sys).
    public static let systemTrees = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
                                     "/proc", "/sys", "/dev"]

    /// Paths that exist are resolved (mount points are reported resolved: /var/run is /run).
    public init(needed: [String], keptTrees: [String] = MountPlan.systemTrees, hidden: [String]) {
        self.needed = needed.map { Self.normalized(MountTable.canonical($0)) }
        self.keptTrees = keptTrees.map(Self.normalized)
        self.hidden = hidden.map { Self.normalized(MountTable.canonical($0)) }
    }

    /// The mount points to detach, deepest first (a mount point stacked several times is
    /// listed once per mount).
    public func mountsToDetach(_ mountPoints: [String]) -> [String] {
        mountPoints.filter { !keeps($0) }.sorted { $0.count > $1.count }
    }

    func keeps(_ mountPoint: String) -> Bool {
        let point = Self.normalized(mountPoint)
        if hidden.contains(where: { Self.isAtOrBelow(point, $0) }) { return false }
        if point == "/" { return true }
        if needed.contains(where: { Self.isAtOrBelow($0, point) || Self.isAtOrBelow(point, $0) }) { return true }
        return keptTrees.contains { Self.isAtOrBelow(point, $0) }
    }

    static func isAtOrBelow(_ path: String, _ ancestor: String) -> Bool {
        ancestor == "/" || path == ancestor || path.hasPrefix(ancestor + "/")
    }

    static func normalized(_ path: String) -> String {
        var result = path
        while result.count > 1, result.hasSuffix("/") { result.removeLast() }
        return result
    }
}

import BerthCore
import CLinux
import Dispatch
import Foundation
import Synchronization

/// A mount namespace of the daemon's own, held by one thread, in which runc is started
/// and container roots are mounted.
///
/// Why: runc reads the whole mount table several times per start, and a container's
/// mount namespace begins as a copy of runc's. In the host's namespace every running
/// container would add two mounts (its root and its network namespace file), so each
/// start would cost more than the one before: about 30 µs per mount, 35 ms at 500
/// containers. Here the table is what the host had when the daemon started, minus the
/// daemon's network namespace files; a container's root is mounted here only for the
/// moment runc needs it, and never appears in the host's table.
///
/// The namespace is a slave of the host's: an unmount on the host reaches it, so it
/// never pins a file system the host let go of. Mounts made later on the host reach it
/// too, which is why the daemon's namespace directory is a private mount point there
/// (`makePrivateMountPoint`): files bound below it stay out of this table.
public final class LaunchNamespace: Sendable {
    private struct Job: @unchecked Sendable {
        // @unchecked: created by one caller, run once on the thread while the caller waits.
        let run: () -> Void
    }

    private let jobs = Mutex<[Job]>([])
    private let wakeup = DispatchSemaphore(value: 0)

    /// Starts the thread and moves it into a new mount namespace, where each of `hiding`
    /// that is a mount point is detached (with everything below it).
    public init(hiding: [String]) throws(BerthError) {
        let ready = DispatchSemaphore(value: 0)
        let startError = Mutex<BerthError?>(nil)
        let thread = Thread { [self] in
            if let error = Self.enterNewNamespace(hiding: hiding) {
                startError.withLock { $0 = error }
                ready.signal()
                return
            }
            ready.signal()
            while true {
                self.wakeup.wait()
                let job = self.jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                job?.run()
            }
        }
        thread.name = "berth-launch"
        thread.start()
        ready.wait()
        if let error = startError.withLock({ $0 }) { throw error }
    }

    /// Runs `body` on the namespace's thread; the caller blocks until it is done. Meant for
    /// short work (a mount, a posix_spawn): one job runs at a time.
    public func perform<T>(_ body: @escaping () throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        // Written on the thread before `done` is signalled, read here only after.
        nonisolated(unsafe) var outcome: Result<T, any Error>?
        let job = Job {
            outcome = Result { try body() }
            done.signal()
        }
        jobs.withLock { $0.append(job) }
        wakeup.signal()
        done.wait()
        guard let outcome else { throw BerthError(.internal, "launch namespace job finished without a result") }
        return try outcome.get()
    }

    private static func enterNewNamespace(hiding: [String]) -> BerthError? {
        // CLONE_NEWNS implies CLONE_FS: only this thread leaves the host's mount table.
        guard berth_unshare(berth_clone_newns()) == 0 else {
            return BerthError(.internal, "cannot create the launch mount namespace: \(errnoText(errno))")
        }
        guard mount(nil, "/", nil, UInt(MS_REC | MS_SLAVE), nil) == 0 else {
            return BerthError(.internal, "cannot make the launch mount namespace a slave of the host's: \(errnoText(errno))")
        }
        for path in hiding where MountTable.isMountPoint(path) {
            guard umount2(path, Int32(MNT_DETACH)) == 0 else {
                return BerthError(.internal, "cannot detach \(path) in the launch mount namespace: \(errnoText(errno))")
            }
        }
        return nil
    }

    /// Makes `path` a mount point of its own with private propagation, in the caller's
    /// mount namespace, keeping whatever is mounted below it. Files bound below it later
    /// then stay in this namespace only.
    public static func makePrivateMountPoint(_ path: String) throws(BerthError) {
        if !MountTable.isMountPoint(path) {
            guard mount(path, path, nil, UInt(MS_BIND | MS_REC), nil) == 0 else {
                throw BerthError(.internal, "cannot bind \(path) onto itself: \(errnoText(errno))")
            }
        }
        guard mount(nil, path, nil, UInt(MS_PRIVATE), nil) == 0 else {
            throw BerthError(.internal, "cannot make \(path) a private mount point: \(errnoText(errno))")
        }
    }
}

import BerthCore
import Dispatch
import Glibc
import Namespaces
import Netlink
import Synchronization

/// Finishes container network teardowns off the caller's path, on a thread of its own
/// with its own netlink socket in the daemon's namespace (it never switches namespace),
/// so neither callers nor the namespace thread wait for the kernel.
///
/// Deleting a veth makes the kernel wait for an RCU grace period (15-20 ms) before the
/// request returns. Dropping a namespace's last reference lets the kernel's own cleanup
/// work delete the veths inside it (and their host ends) without anyone waiting, so a
/// container's namespace is only unmounted and this thread watches for its host ends to
/// vanish. Only when they outlive `deadline` (something else holds the namespace) are
/// they deleted explicitly. `done` runs once the links are gone: that is when their
/// addresses may be handed out again.
final class TeardownThread: Sendable {
    struct Job: Sendable {
        /// Host ends that must be gone before the job is done.
        var links: [String]
        /// True when a namespace holding the peers was dropped: the kernel removes them.
        var namespaceDropped: Bool
        var done: @Sendable () -> Void
    }

    private let incoming = Mutex<[Job]>([])
    private let wakeup = DispatchSemaphore(value: 0)
    /// How long the kernel gets to destroy a dropped namespace before its links are
    /// deleted explicitly.
    static let deadline = Duration.seconds(2)

    init() throws(BerthError) {
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<BerthError?>(nil)
        let box = Unchecked(self)
        let thread = Thread {
            let netlink: RouteNetlink
            do {
                netlink = try RouteNetlink()
            } catch {
                failure.withLock { $0 = BerthError.wrap(error, "starting the teardown thread") }
                ready.signal()
                return
            }
            ready.signal()
            box.value.loop(netlink)
        }
        thread.start()
        ready.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    func submit(_ job: Job) {
        incoming.withLock { $0.append(job) }
        wakeup.signal()
    }

    private struct Pending {
        var job: Job
        var remaining: [String]
        var deadline: ContinuousClock.Instant
    }

    private func loop(_ netlink: RouteNetlink) {
        var pending: [Pending] = []
        while true {
            if pending.isEmpty {
                wakeup.wait()
            } else {
                // Checking costs one RTM_GETLINK per link: look less often when many wait.
                let micros = 2_000 + 20 * pending.count
                _ = wakeup.wait(timeout: .now() + .microseconds(micros))
            }
            for job in incoming.withLock({ jobs in defer { jobs = [] }; return jobs }) {
                if job.namespaceDropped {
                    pending.append(Pending(job: job, remaining: job.links, deadline: .now + Self.deadline))
                } else {
                    // The peer's namespace lives on (network disconnect): delete the pair.
                    for name in job.links { Self.delete(name, netlink) }
                    job.done()
                }
            }
            let now = ContinuousClock.now
            pending = pending.compactMap { entry in
                var entry = entry
                // A failed lookup counts as present: the deadline still ends the wait.
                entry.remaining.removeAll { name in
                    do { return try netlink.link(named: name) == nil } catch { return false }
                }
                if !entry.remaining.isEmpty && now >= entry.deadline {
                    for name in entry.remaining { Self.delete(name, netlink) }
                    entry.remaining = []
                }
                if entry.remaining.isEmpty {
                    entry.job.done()
                    return nil
                }
                return entry
            }
        }
    }

    private static func delete(_ name: String, _ netlink: RouteNetlink) {
        // ENODEV: already gone. Anything else is left to reconciliation at the next start.
        try? netlink.deleteLink(named: name)
    }
}

import BerthCore
import Netlink
import Threads

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

    /// How long the kernel gets to destroy a dropped namespace before its links are
    /// deleted explicitly.
    static let deadline = Duration.seconds(2)

    // Submitting a job only records it; the watching is the thread's idle step, which
    // runs after each batch of submissions and again after the delay it asks for. So
    // one loop serves every waiting teardown, and a burst of them costs one pass.
    private let thread: DedicatedThread<Teardowns>

    init() throws(BerthError) {
        do {
            thread = try DedicatedThread(name: "berth-teardown",
                                         makeContext: { Teardowns(netlink: try RouteNetlink()) },
                                         idle: { $0.poll() })
        } catch {
            throw BerthError.wrap(error, "starting the teardown thread")
        }
    }

    func submit(_ job: Job) {
        thread.submit { $0.accept(job) }
    }
}

/// The teardown thread's state: its netlink socket and the teardowns still waiting.
private struct Teardowns {
    let netlink: RouteNetlink
    var pending: [Pending] = []

    struct Pending {
        var job: TeardownThread.Job
        var remaining: [String]
        var deadline: ContinuousClock.Instant
    }

    mutating func accept(_ job: TeardownThread.Job) {
        if job.namespaceDropped {
            pending.append(Pending(job: job, remaining: job.links, deadline: .now + TeardownThread.deadline))
        } else {
            // The peer's namespace lives on (network disconnect): delete the pair.
            for name in job.links { delete(name) }
            job.done()
        }
    }

    /// Finishes the teardowns whose links are gone or past their deadline, and says when
    /// to look again (nil: nothing waits).
    mutating func poll() -> Duration? {
        let now = ContinuousClock.now
        let netlink = netlink
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
        // Checking costs one RTM_GETLINK per link: look less often when many wait.
        return pending.isEmpty ? nil : .microseconds(2_000 + 20 * pending.count)
    }

    private func delete(_ name: String) { Self.delete(name, netlink) }

    private static func delete(_ name: String, _ netlink: RouteNetlink) {
        // Already gone is what was wanted; anything else is left to reconciliation at the
        // next start, and said.
        driverLog.cleanUp("delete \(name)", during: "container network teardown") { try netlink.removeLink(named: name) }
    }
}

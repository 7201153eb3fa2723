import Glibc
import Synchronization
import Netlink
import Threads

/// The guard of berth's table: listens to nftables' notifications and, when another
/// program removed part of the table, posts a restore to the firewall's thread as a job,
/// so the firewall's state is still touched by that thread's jobs only.
///
/// Why a thread of its own and not the firewall thread's idle step: the notifications
/// arrive on a netlink socket. Blocking on it there would hold every change up for as
/// long as the wait; polling it would leave the table missing until the next poll. So
/// the wait is the idle step of a `DedicatedThread` of its own that gets no work but one
/// job to set it going: each step blocks on the socket for at most its receive timeout,
/// so releasing the thread ends it within that timeout.
struct RulesetWatch {
    /// How long one idle step waits for notifications; also how late the thread ends.
    static let receiveTimeout: Duration = .milliseconds(500)

    private let socket: NetlinkSocket
    var tamper: RulesetEvents.Tamper
    /// One reconcile waiting on the firewall's thread is enough: ufw's reload or dockerd's
    /// start commit dozens of times in a row, and a reconcile lists the whole ruleset.
    let reconcileQueued = PendingFlag()

    /// Opens the socket (on the new thread, in the namespace of the thread calling this,
    /// which the new thread inherits) and starts watching. `firewallThreadID` is the
    /// thread that sends berth's transactions: its commits, restores included, are not
    /// tampering (else each restore's `delete table` would set off the next one).
    /// Throws when it cannot listen.
    static func start(restoringThrough firewall: DedicatedThread<FirewallState>,
                      firewallThreadID: UInt32?) throws -> DedicatedThread<RulesetWatch> {
        var own: Set<UInt32> = [UInt32(bitPattern: getpid())]
        if let firewallThreadID { own.insert(firewallThreadID) }
        let ownPIDs = own
        let thread = try DedicatedThread(
            name: "berth-nft-watch",
            makeContext: { try RulesetWatch(ownPIDs: ownPIDs) },
            idle: { watch in
                let tampered = watch.waitForTamper()
                let foreignChange = watch.tamper.takeForeignChange()
                if let reason = tampered {
                    // A restore reconciles the other tables too.
                    firewall.submit { state in state.restore(reason: reason) }
                } else if foreignChange, watch.reconcileQueued.claim() {
                    let queued = watch.reconcileQueued
                    firewall.submit { state in
                        queued.release()
                        state.reconcileForeign(reason: "another program changed the ruleset")
                    }
                }
                return .zero
            })
        // The idle step first runs after a job; from then on it runs back to back.
        thread.submit { _ in }
        return thread
    }

    private init(ownPIDs: Set<UInt32>) throws {
        socket = try NetlinkSocket(family: NetlinkFamily.netfilter, groups: [RulesetEvents.group],
                                   receiveBufferSize: 4 << 20, receiveTimeout: Self.receiveTimeout)
        tamper = RulesetEvents.Tamper(table: Ruleset.table, ownPIDs: ownPIDs)
    }

    /// The kernel's id of the calling thread (gettid, which Glibc's module does not
    /// export): /proc/thread-self links to "<pid>/task/<tid>". Nil if it cannot be read.
    static func callingThreadID() -> UInt32? {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count)
        guard count > 0, count <= buffer.count else { return nil }
        let link = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return link.split(separator: "/").last.flatMap { UInt32($0) }
    }

    /// A flag set by one thread and cleared by another.
    final class PendingFlag: Sendable {
        private let pending = Mutex(false)

        /// Sets the flag; false when it was already set.
        func claim() -> Bool { pending.withLock { wasSet in defer { wasSet = true }; return !wasSet } }
        func release() { pending.withLock { $0 = false } }
    }

    /// Waits up to `receiveTimeout` for one datagram of notifications; returns why the
    /// table must be put back, or nil.
    mutating func waitForTamper() -> String? {
        let datagram: [UInt8]
        do { datagram = try socket.receive() } catch let error as NetlinkError {
            // ENOBUFS: the kernel dropped notifications, so what they said is unknown.
            // Anything else is the timeout (or a datagram that cannot matter): wait again.
            return error.errno == ENOBUFS ? "missed ruleset events" : nil
        } catch {
            return nil
        }
        var tampered = false
        for event in RulesetEvents.parse(datagram) {
            // Every event goes through `observe`: it tracks which transaction is open.
            if tamper.observe(event) { tampered = true }
        }
        return tampered ? "berth's table was changed by another program" : nil
    }
}

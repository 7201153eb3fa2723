import BerthCore
import CLinux
import Glibc

/// The anti-spoofing guard inside another network namespace: an overlay's containers meet
/// on a bridge in the overlay's own namespace, where the host's `bridge berth` table does
/// not see their frames. Its own `bridge berth` table there holds the same fixed rules,
/// and its elements go through a libnftables context and a raw batch socket both opened
/// inside that namespace (a netlink socket stays bound to the namespace it was opened in),
/// so the firewall's thread sends to it from the host's namespace.
final class NamespaceGuard {
    let path: String
    private let nftables: Nftables
    private let batch: GuardBatch

    /// Opens the sockets inside the namespace at `path`: the calling thread enters it and
    /// comes back before returning. The firewall's dedicated thread calls this, in a job.
    init(path: String) throws(BerthError) {
        let home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else { throw BerthError(.kernel, "cannot open this thread's network namespace") }
        defer { close(home) }
        let target = open(path, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw BerthError(.kernel, "cannot open network namespace \(path): \(String(cString: strerror(errno)))") }
        defer { close(target) }
        guard berth_setns(target, berth_clone_newnet()) == 0 else {
            throw BerthError(.kernel, "cannot enter network namespace \(path): \(String(cString: strerror(errno)))")
        }
        let made: Result<(Nftables, GuardBatch), BerthError>
        do throws(BerthError) {
            made = .success((try Nftables(), try GuardBatch()))
        } catch {
            made = .failure(error)
        }
        // Every later transaction of the firewall's thread assumes the host's namespace:
        // not getting back is fatal to the process rather than a silent misroute.
        guard berth_setns(home, berth_clone_newnet()) == 0 else {
            fatalError("the firewall's thread cannot return to its network namespace")
        }
        (nftables, batch) = try made.get()
        self.path = path
    }

    /// The whole guard table for these endpoints, replacing what is there.
    func install(_ endpoints: [GuardedEndpoint]) throws(BerthError) {
        let table = "bridge \(Ruleset.table)"
        let lines = ["add table \(table)", "delete table \(table)", "table \(table) {"] + SpoofGuard.tableBody(endpoints) + ["}"]
        try nftables.run(lines.joined(separator: "\n") + "\n")
    }

    func apply(removing: [GuardedEndpoint], adding: [GuardedEndpoint]) throws(BerthError) {
        try batch.apply(removing: removing, adding: adding)
    }
}

import BerthCore
import Foundation
import Logging
import Synchronization
import Threads

/// berth's packet filtering and NAT: keeps the kernel's `inet berth` table equal to the
/// networks and published ports berthd has, one atomic nftables transaction per change.
///
/// The state lives in a `FirewallState` made on a thread of the firewall's own and
/// touched only by that thread's jobs, one at a time: every change is one job, so a
/// change and a full restore can never interleave and resurrect something just removed.
/// A change that the kernel refuses leaves the state as it was. `RulesetWatch`, on a
/// thread of its own, posts restores as jobs too.
public final class Firewall: Sendable {
    private let thread: DedicatedThread<FirewallState>
    private let logger: Logger
    private let overlayTunnel: Bool
    /// The guard's thread from `start` to `stop`; releasing it ends it.
    private let watcher = Mutex<DedicatedThread<RulesetWatch>?>(nil)

    public init(options: Ruleset.Options, logger: Logger) throws(BerthError) {
        do {
            thread = try DedicatedThread(name: "berth-firewall", makeContext: { try FirewallState(options: options, logger: logger) })
        } catch {
            throw Self.berthError(error)
        }
        self.logger = logger
        self.overlayTunnel = options.overlayTunnel != nil
    }

    /// Whether bridged IPv4 traffic passes the IP hooks here (br_netfilter on).
    public static func bridgeNetfilterActive() -> Bool {
        // No such file: br_netfilter is not loaded, which is the answer "no".
        (try? String(contentsOfFile: "/proc/sys/net/bridge/bridge-nf-call-iptables", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    /// How many times the table was put back after someone else removed it (for tests and logs).
    public var restorations: Int {
        // perform fails only when called from a job of the firewall's thread, and no job reads this.
        (try? thread.perform { $0.restorations }) ?? 0
    }

    // MARK: lifecycle

    /// Installs the whole table for what exists at start (after a restart, the running
    /// containers' ports), turns forwarding on, and starts guarding the table.
    public func start(networks: [FirewallNetwork], published: [String: [PortMapping]],
                      guarded: [GuardedEndpoint] = []) throws(BerthError) {
        try Self.writeSysctl("/proc/sys/net/ipv4/ip_forward", "1")
        if networks.contains(where: \.ipv6) { try Self.writeSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1") }
        for network in networks { allowLocalhost(network.bridge) }
        warnAboutLegacyIptables()
        let firewallThreadID = try perform { state throws(BerthError) in
            try state.start(networks: networks, published: published, guarded: guarded)
            return state.threadID
        }
        do {
            let watch = try RulesetWatch.start(restoringThrough: thread, firewallThreadID: firewallThreadID)
            // A second start replaces the guard; the old one ends within its receive timeout.
            watcher.withLock { $0 = watch }
        } catch {
            logger.warning("cannot watch the ruleset; berth's rules will not be restored if removed", metadata: ["error": .string("\(error)")])
        }
    }

    /// Stops guarding; with `removeRules`, deletes berth's table too (`berthd --cleanup`).
    public func stop(removeRules: Bool) {
        // Ends the guard's thread within its receive timeout; a restore it posts meanwhile
        // finds the state no longer guarding.
        watcher.withLock { $0 = nil }
        do {
            try perform { state throws(BerthError) in try state.stop(removeRules: removeRules) }
        } catch {
            logger.warning("cannot remove berth's nftables table", metadata: ["error": .string("\(error)")])
        }
    }

    // MARK: changes

    public func addNetwork(_ network: FirewallNetwork) async throws(BerthError) {
        if network.ipv6 { try Self.writeSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1") }
        allowLocalhost(network.bridge)
        try await job { state throws(BerthError) in try state.addNetwork(network) }
    }

    public func removeNetwork(bridge: String) async throws(BerthError) {
        try await job { state throws(BerthError) in try state.removeNetwork(bridge: bridge) }
    }

    /// Cluster mode: containers of other nodes came and went.
    public func updateRemoteContainers(adding: [IPv4Address], removing: [IPv4Address]) async throws(BerthError) {
        guard overlayTunnel else { return }
        try await job { state throws(BerthError) in try state.updateRemoteContainers(adding: adding, removing: removing) }
    }

    /// Chooses host ports, holds them, and adds the DNAT entries, all or nothing.
    /// A container without an IPv6 address gets IPv4 mappings only.
    public func publish(container: String, requests: [PortRequest], ipv4: IPv4Address?, ipv6: IPv6Address?) async throws(BerthError) -> [PortMapping] {
        guard !requests.isEmpty else { return [] }
        return try await job { state throws(BerthError) in
            try state.publish(container: container, requests: requests, ipv4: ipv4, ipv6: ipv6)
        }
    }

    /// Removes a container's DNAT entries and frees its host ports.
    public func unpublish(container: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            thread.submit { state in
                state.removePorts(of: container)
                continuation.resume()
            }
        }
    }

    /// The same without waiting: deleting map elements waits for the kernel's RCU grace
    /// period (~15 ms), which a stopping container need not sit through. The job is
    /// queued before this returns, so any later publish of the same ports runs after it.
    public func unpublishInBackground(container: String) {
        thread.submit { state in state.removePorts(of: container) }
    }

    /// Anti-spoofing: from now on frames from these ports must carry their endpoint's
    /// identity (see `SpoofGuard`), one transaction for all of them. Not awaited: queued
    /// on the firewall's thread before this returns, `done` runs there with the outcome. A start calls it from the network worker's
    /// thread the moment the ports are named, sparing a hop through the task pool.
    public func guardEndpoints(_ endpoints: [GuardedEndpoint], done: @escaping @Sendable (BerthError?) -> Void) {
        guard !endpoints.isEmpty else { return done(nil) }
        thread.submit { state in
            do throws(BerthError) {
                try state.guardEndpoints(endpoints)
                done(nil)
            } catch {
                done(error)
            }
        }
    }

    /// Forgets guarded ports without waiting (their veths are going away; deleting set
    /// elements waits for the kernel's grace period). Queued before this returns, so a
    /// later guard of the same port name runs after it.
    public func unguardInBackground(ports: [String]) {
        guard !ports.isEmpty else { return }
        thread.submit { state in state.unguard(ports: ports) }
    }

    // MARK: internals

    /// One job on the firewall's thread, awaited.
    private func job<T: Sendable>(_ body: @escaping @Sendable (FirewallState) throws(BerthError) -> T) async throws(BerthError) -> T {
        do {
            return try await thread.run { state in try body(state) }
        } catch {
            throw Self.berthError(error)
        }
    }

    /// One job on the firewall's thread, the caller blocked until it is done (start, stop).
    private func perform<T>(_ body: @escaping (FirewallState) throws(BerthError) -> T) throws(BerthError) -> T {
        do {
            return try thread.perform { state in try body(state) }
        } catch {
            throw Self.berthError(error)
        }
    }

    /// A job's own error, or what the thread reported instead (never expected: see
    /// `DedicatedThreadError`).
    private static func berthError(_ error: any Error) -> BerthError {
        error as? BerthError ?? BerthError(.internal, "the firewall's thread failed", cause: error)
    }

    static func ephemeralPorts() -> ClosedRange<UInt16> {
        // Unreadable: the kernel's default range below, as for a malformed one.
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let bounds = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { UInt16($0) }
        if bounds.count == 2, bounds[0] <= bounds[1] { return bounds[0]...bounds[1] }
        return 32768...60999
    }

    static func writeSysctl(_ path: String, _ value: String) throws(BerthError) {
        do { try value.write(toFile: path, atomically: false, encoding: .utf8) } catch {
            throw BerthError(.internal, "cannot set \(path) to \(value)", cause: error)
        }
    }

    /// iptables-legacy's tables are not nftables': berth cannot put its rule in them
    /// (`ForeignChains`), so a legacy FORWARD policy of DROP would drop its traffic.
    func warnAboutLegacyIptables() {
        // Unreadable: the legacy module is not loaded, nothing to warn about.
        let names = (try? String(contentsOfFile: "/proc/net/ip_tables_names", encoding: .utf8)) ?? ""
        if names.split(separator: "\n").contains("filter") {
            logger.warning("iptables-legacy's filter table is in use: berth cannot let its traffic through it; if its FORWARD policy is DROP, add rules for berth's bridges there or use iptables-nft")
        }
    }

    /// 127.0.0.1 may be the source of packets routed to the bridge (the host reaching a
    /// published port on localhost); they are masqueraded on the way out. Without it
    /// only that way in fails, so the network is still made, and the failure said.
    func allowLocalhost(_ bridge: String) {
        do { try Self.writeSysctl("/proc/sys/net/ipv4/conf/\(bridge)/route_localnet", "1") } catch {
            logger.warning("published ports of \(bridge) will not answer on 127.0.0.1", metadata: ["error": .string("\(error)")])
        }
    }
}

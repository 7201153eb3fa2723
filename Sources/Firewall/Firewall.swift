import BerthCore
import Dispatch
import Foundation
import Logging
import Netlink
import Synchronization

/// berth's packet filtering and NAT: keeps the kernel's `inet berth` table equal to the
/// networks and published ports berthd has, one atomic nftables transaction per change.
///
/// Every change runs as one job on a serial queue that reads and updates the desired
/// state, renders the script and sends it, so a change and a full restore can never
/// interleave and resurrect something just removed. A change that the kernel refuses
/// leaves the state as it was.
public final class Firewall: @unchecked Sendable {
    // @unchecked: `nftables`, `networks`, `published`, `reservations` and `watching`
    // are only touched on `queue`.
    private let queue = DispatchQueue(label: "berth.firewall")
    private let nftables: Nftables
    private let options: Ruleset.Options
    private let logger: Logger
    private var networks: [String: FirewallNetwork] = [:]
    private var published: [String: [PortMapping]] = [:]
    /// Cluster mode: addresses of containers on other nodes (see `Ruleset`'s overlay_remote).
    private var remoteContainers: Set<IPv4Address> = []
    private var reservations = PortReservations()
    private var watcher: Thread?
    private let stopWatching = Atomic<Bool>(false)
    /// How many times the table was put back after someone else removed it (for tests and logs).
    private let restoreCount = Atomic<Int>(0)

    public init(options: Ruleset.Options, logger: Logger) throws(BerthError) {
        self.nftables = try Nftables()
        self.options = options
        self.logger = logger
    }

    /// Whether bridged IPv4 traffic passes the IP hooks here (br_netfilter on).
    public static func bridgeNetfilterActive() -> Bool {
        (try? String(contentsOfFile: "/proc/sys/net/bridge/bridge-nf-call-iptables", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    public var restorations: Int { restoreCount.load(ordering: .relaxed) }

    // MARK: lifecycle

    /// Installs the whole table for what exists at start (after a restart, the running
    /// containers' ports), turns forwarding on, and starts guarding the table.
    public func start(networks: [FirewallNetwork], published: [String: [PortMapping]]) throws(BerthError) {
        try Self.writeSysctl("/proc/sys/net/ipv4/ip_forward", "1")
        if networks.contains(where: \.ipv6) { try Self.writeSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1") }
        for network in networks { Self.allowLocalhost(network.bridge) }
        try sync { () throws(BerthError) in
            for (container, mappings) in published {
                for mapping in mappings {
                    do { try reservations.reserve(mapping.hostKey) } catch {
                        // The rules still apply; only the guard against other programs is missing.
                        logger.warning("cannot hold a published port", metadata: [
                            "container": .string(String(container.prefix(12))), "error": .string("\(error)")])
                    }
                }
            }
            self.networks = Dictionary(networks.map { ($0.bridge, $0) }, uniquingKeysWith: { $1 })
            self.published = published
            try applyAll()
        }
        startWatching()
    }

    /// Stops guarding; with `removeRules`, deletes berth's table too (`berthd --cleanup`).
    public func stop(removeRules: Bool) {
        stopWatching.store(true, ordering: .relaxed)
        guard removeRules else { return }
        do {
            _ = try sync { () throws(BerthError) in try nftables.run(Ruleset.removeAll()) }
        } catch {
            logger.warning("cannot remove berth's nftables table", metadata: ["error": .string("\(error)")])
        }
    }

    // MARK: changes

    public func addNetwork(_ network: FirewallNetwork) async throws(BerthError) {
        if network.ipv6 { try Self.writeSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1") }
        Self.allowLocalhost(network.bridge)
        try await job { () throws(BerthError) in
            guard self.networks[network.bridge] != network else { return }
            if let old = self.networks[network.bridge] { try self.nftables.run(Ruleset.removeNetwork(old)) }
            try self.nftables.run(Ruleset.addNetwork(network))
            self.networks[network.bridge] = network
        }
    }

    public func removeNetwork(bridge: String) async throws(BerthError) {
        try await job { () throws(BerthError) in
            guard let network = self.networks[bridge] else { return }
            try self.nftables.run(Ruleset.removeNetwork(network))
            self.networks[bridge] = nil
        }
    }

    /// Cluster mode: containers of other nodes came and went.
    public func updateRemoteContainers(adding: [IPv4Address], removing: [IPv4Address]) async throws(BerthError) {
        guard options.overlayTunnel != nil else { return }
        try await job { () throws(BerthError) in
            let added = Set(adding).subtracting(self.remoteContainers)
            let removed = Set(removing).subtracting(adding).intersection(self.remoteContainers)
            guard !added.isEmpty || !removed.isEmpty else { return }
            try self.nftables.run(Ruleset.updateRemoteContainers(
                adding: added.sorted { $0.value < $1.value }, removing: removed.sorted { $0.value < $1.value }))
            self.remoteContainers.formUnion(added)
            self.remoteContainers.subtract(removed)
        }
    }

    /// Chooses host ports, holds them, and adds the DNAT entries, all or nothing.
    /// A container without an IPv6 address gets IPv4 mappings only.
    public func publish(container: String, requests: [PortRequest], ipv4: IPv4Address?, ipv6: IPv6Address?) async throws(BerthError) -> [PortMapping] {
        guard !requests.isEmpty else { return [] }
        return try await job { () throws(BerthError) -> [PortMapping] in
            var taken = TakenPorts()
            for (owner, mappings) in self.published where owner != container {
                for mapping in mappings { taken.insert(mapping.hostKey) }
            }
            var chosen: [PortMapping] = []
            do throws(BerthError) {
                for request in requests {
                    let mappings = try self.choose(request, ipv4: ipv4, ipv6: ipv6, taken: taken)
                    for mapping in mappings { taken.insert(mapping.hostKey) }
                    chosen += mappings
                }
                let previous = self.published[container] ?? []
                var script = ""
                if !previous.isEmpty { script += Ruleset.removePorts(previous) }
                script += Ruleset.addPorts(chosen)
                try self.nftables.run(script)
                for mapping in previous where !chosen.contains(where: { $0.hostKey == mapping.hostKey }) {
                    self.reservations.release(mapping.hostKey)
                }
                self.published[container] = chosen
                return chosen
            } catch {
                let kept = Set((self.published[container] ?? []).map(\.hostKey))
                for mapping in chosen where !kept.contains(mapping.hostKey) { self.reservations.release(mapping.hostKey) }
                throw error
            }
        }
    }

    /// Removes a container's DNAT entries and frees its host ports.
    public func unpublish(container: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.removePorts(of: container)
                continuation.resume()
            }
        }
    }

    /// The same without waiting: deleting map elements waits for the kernel's RCU grace
    /// period (~15 ms), which a stopping container need not sit through. The job is
    /// queued before this returns, so any later publish of the same ports runs after it.
    public func unpublishInBackground(container: String) {
        queue.async { self.removePorts(of: container) }
    }

    private func removePorts(of container: String) {
        guard let mappings = published.removeValue(forKey: container) else { return }
        for mapping in mappings { reservations.release(mapping.hostKey) }
        do {
            try nftables.run(Ruleset.removePorts(mappings))
        } catch {
            // The kernel's table is not what we think (elements already gone, say):
            // rewrite it whole from the state, which no longer has these ports.
            logger.warning("removing published ports failed; rewriting berth's table", metadata: [
                "container": .string(String(container.prefix(12))), "error": .string("\(error)")])
            do { try applyAll() } catch {
                logger.error("cannot rewrite berth's nftables table", metadata: ["error": .string("\(error)")])
            }
        }
    }

    // MARK: internals

    /// A host port for one request: the one asked for, or the first free in its range
    /// (or in the ephemeral range), checked against berth's own mappings first so the
    /// message names the conflict, then by binding.
    private func choose(_ request: PortRequest, ipv4: IPv4Address?, ipv6: IPv6Address?, taken: TakenPorts) throws(BerthError) -> [PortMapping] {
        var families: [(IPAddress, Bool)] = []
        switch request.hostIP {
        case .v4?:
            guard let ipv4 else { throw .invalid("cannot publish \(request.containerPort)/\(request.transport.rawValue) on \(request.hostIP.map { "\($0)" } ?? ""): the container has no IPv4 address") }
            families = [(.v4(ipv4), false)]
        case .v6?:
            guard let ipv6 else { throw .invalid("cannot publish \(request.containerPort)/\(request.transport.rawValue) on [\(request.hostIP.map { "\($0)" } ?? "")]: the container has no IPv6 address") }
            families = [(.v6(ipv6), true)]
        case nil:
            if let ipv4 { families.append((.v4(ipv4), false)) }
            if let ipv6 { families.append((.v6(ipv6), true)) }
            guard !families.isEmpty else { throw .invalid("cannot publish ports of a container without an address") }
        }
        let candidates: ClosedRange<UInt16> = request.hostPorts ?? Self.ephemeralPorts()
        let explicit = request.hostPorts.map { $0.count == 1 } ?? false
        var lastError: BerthError?
        for port in candidates {
            let mappings = families.map { address, _ in
                PortMapping(hostIP: request.hostIP, hostPort: port, transport: request.transport,
                            containerIP: address, containerPort: request.containerPort)
            }
            if let clash = mappings.first(where: { taken.collides(with: $0.hostKey) }) {
                lastError = BerthError(.conflict, "Bind for \(clash.hostKey) failed: port is already allocated")
                if explicit { break } else { continue }
            }
            var held: [HostPortKey] = []
            do {
                for mapping in mappings {
                    try reservations.reserve(mapping.hostKey)
                    held.append(mapping.hostKey)
                }
                return mappings
            } catch {
                for key in held { reservations.release(key) }
                lastError = error
                // A host address that is not ours fails the same way for every port.
                if explicit || error.code == .invalidArgument { break }
            }
        }
        if explicit || lastError?.code == .invalidArgument, let lastError { throw lastError }
        throw BerthError(.exhausted, "no free host port for \(request.containerPort)/\(request.transport.rawValue) in \(candidates.lowerBound)-\(candidates.upperBound)" + (lastError.map { " (last: \($0.message))" } ?? ""))
    }

    private func applyAll() throws(BerthError) {
        try nftables.run(Ruleset.full(networks: Array(networks.values), ports: published.values.flatMap { $0 }, options: options,
                                      remoteContainers: remoteContainers))
    }

    /// Someone else removed part of our table (`nft flush ruleset`, say): put it all back.
    private func restore(reason: String) {
        queue.async {
            do {
                try self.applyAll()
                self.restoreCount.add(1, ordering: .relaxed)
                self.logger.warning("restored berth's nftables rules", metadata: ["reason": .string(reason)])
            } catch {
                self.logger.error("cannot restore berth's nftables rules", metadata: ["error": .string("\(error)")])
            }
        }
    }

    private func startWatching() {
        nonisolated(unsafe) let socket: NetlinkSocket  // used by the watch thread only
        do {
            socket = try NetlinkSocket(family: NetlinkFamily.netfilter, groups: [RulesetEvents.group],
                                       receiveBufferSize: 4 << 20, receiveTimeout: .milliseconds(500))
        } catch {
            logger.warning("cannot watch the ruleset; berth's rules will not be restored if removed", metadata: ["error": .string("\(error)")])
            return
        }
        let ownPID = UInt32(getpid())
        let thread = Thread { [self] in
            var tamper = RulesetEvents.Tamper(table: Ruleset.table, ownPID: ownPID)
            while !stopWatching.load(ordering: .relaxed) {
                let datagram: [UInt8]
                do { datagram = try socket.receive() } catch let error as NetlinkError {
                    if error.errno == ENOBUFS { restore(reason: "missed ruleset events") }
                    continue
                } catch { continue }
                for event in RulesetEvents.parse(datagram) where tamper.observe(event) {
                    restore(reason: "berth's table was changed by another program")
                }
            }
        }
        thread.name = "berth-ruleset-watch"
        thread.start()
        watcher = thread
    }

    private func job<T: Sendable>(_ body: @escaping @Sendable () throws(BerthError) -> T) async throws(BerthError) -> T {
        let result: Result<T, BerthError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(BerthError) { continuation.resume(returning: .success(try body())) } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    private func sync<T>(_ body: () throws(BerthError) -> T) throws(BerthError) -> T {
        let result: Result<T, BerthError> = queue.sync {
            do throws(BerthError) { return .success(try body()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    static func ephemeralPorts() -> ClosedRange<UInt16> {
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

    /// 127.0.0.1 may be the source of packets routed to the bridge (the host reaching a
    /// published port on localhost); they are masqueraded on the way out.
    static func allowLocalhost(_ bridge: String) {
        try? writeSysctl("/proc/sys/net/ipv4/conf/\(bridge)/route_localnet", "1")
    }
}

/// Host ports already published, by protocol, port and family, so checking a candidate
/// costs the same however many ports the host publishes (a list made each `-p` of a
/// 100-port range scan every published port once per port).
struct TakenPorts {
    private struct Slot: Hashable {
        var transport: TransportProtocol
        var port: UInt16
        var ipv6: Bool
    }

    /// The host addresses taken on each slot; nil is "every address of the family".
    private var slots: [Slot: [IPAddress?]] = [:]

    mutating func insert(_ key: HostPortKey) {
        slots[Slot(transport: key.transport, port: key.port, ipv6: key.ipv6), default: []].append(key.hostIP)
    }

    func collides(with key: HostPortKey) -> Bool {
        guard let addresses = slots[Slot(transport: key.transport, port: key.port, ipv6: key.ipv6)] else { return false }
        return addresses.contains { HostPortKey(hostIP: $0, transport: key.transport, port: key.port, ipv6: key.ipv6).collides(with: key) }
    }
}

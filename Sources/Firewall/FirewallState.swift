import BerthCore
import Logging
import PortRelay

/// What the firewall knows and holds: the libnftables context, the networks, published
/// ports with the sockets holding their host ports, and cluster mode's remote containers.
///
/// It is the context of the firewall's `DedicatedThread`: made on that thread and touched
/// only by its jobs, one at a time, so a change and a full restore never interleave and
/// none can resurrect what another just removed. Each change renders one script and sends
/// it as one atomic transaction; a change the kernel refuses leaves the state as it was.
final class FirewallState {
    private let nftables: Nftables
    /// The guard's element changes, sent as raw batches (see `GuardBatch`).
    private let guardBatch: GuardBatch
    private let options: Ruleset.Options
    private let logger: Logger
    private var networks: [String: FirewallNetwork] = [:]
    private var published: [String: [PortMapping]] = [:]
    /// Cluster mode: addresses of containers on other nodes (see `Ruleset`'s overlay_remote).
    private var remoteContainers: Set<IPv4Address> = []
    private var reservations = PortReservations()
    /// Host-firewall mode: serves published ports to traffic from outside.
    private let relay: PortRelay?
    /// Anti-spoofing: the guarded container ports, by port name (see `SpoofGuard`).
    private var guarded: [String: GuardedEndpoint] = [:]
    /// The guard in overlays' namespaces, by namespace file, while a port there is guarded.
    private var namespaceGuards: [String: NamespaceGuard] = [:]
    /// The watcher's findings are acted on from `start` to `stop` only, so one on its way
    /// while the daemon stops cannot put back a table that `--cleanup` just removed.
    private var guarding = false
    /// How many times the table was put back after someone else removed it (for tests and logs).
    private(set) var restorations = 0
    /// The thread this state lives on, which sends every transaction of berth's: the
    /// kernel names it in its notifications.
    let threadID: UInt32?

    init(options: Ruleset.Options, logger: Logger) throws(BerthError) {
        self.nftables = try Nftables()
        self.guardBatch = try GuardBatch()
        self.threadID = RulesetWatch.callingThreadID()
        self.options = options
        self.logger = logger
        relay = options.publishedPorts == .hostFirewall ? PortRelay(logger: logger) : nil
    }

    // MARK: lifecycle

    /// Holds the published ports and installs the whole table for what exists at start.
    func start(networks: [FirewallNetwork], published: [String: [PortMapping]], guarded: [GuardedEndpoint] = []) throws(BerthError) {
        for (container, mappings) in published {
            for mapping in mappings {
                do { try reservations.reserve(mapping.hostKey) } catch {
                    // The rules still apply; only the guard against other programs is missing.
                    logger.warning("cannot hold a published port", metadata: [
                        "container": .string(String(container.prefix(12))), "error": .string("\(error)")])
                }
            }
        }
        for mapping in published.values.joined() {
            do { try serveRelay(mapping) } catch {
                logger.warning("a published port will not answer from outside", metadata: ["error": .string("\(error)")])
            }
        }
        self.networks = Dictionary(networks.map { ($0.bridge, $0) }, uniquingKeysWith: { $1 })
        self.published = published
        self.guarded = Dictionary(guarded.map { ($0.port, $0) }, uniquingKeysWith: { $1 })
        for (path, endpoints) in Dictionary(grouping: guarded.filter { $0.namespace != nil }, by: { $0.namespace ?? "" }) {
            do {
                let namespaceGuard = try NamespaceGuard(path: path)
                try namespaceGuard.install(endpoints)
                namespaceGuards[path] = namespaceGuard
            } catch {
                logger.error("cannot guard an overlay's container ports", metadata: ["namespace": .string(path), "error": .string("\(error)")])
            }
        }
        try applyAll()
        guarding = true
    }

    /// Stops acting on the watcher's findings; with `removeRules`, deletes berth's table
    /// and its rule in other programs' chains.
    func stop(removeRules: Bool) throws(BerthError) {
        guarding = false
        guard removeRules else { return }
        // berth's own tables go even if its rules elsewhere cannot be found.
        do {
            if let removal = ForeignChains.removal(try listRuleset()) { try nftables.runJSON(removal) }
        } catch {
            logger.warning("cannot remove berth's rule from other firewalls' chains", metadata: ["error": .string("\(error)")])
        }
        try nftables.run(Ruleset.removeAll())
    }

    /// Another program changed the ruleset: berth's rule in other tables' drop-policy
    /// chains is put back where needed (see `ForeignChains`). A failure is logged: the
    /// next change tries again, and berth's own table is untouched by it.
    func reconcileForeign(reason: String) {
        guard guarding else { return }
        do { try reconcileForeignChains() } catch {
            logger.error("cannot put berth's rule in other firewalls' chains", metadata: [
                "reason": .string(reason), "error": .string("\(error)")])
        }
    }

    /// Someone else removed part of our table (`nft flush ruleset`, say): put it all back.
    func restore(reason: String) {
        guard guarding else { return }
        do {
            try applyAll()
            restorations += 1
            logger.warning("restored berth's nftables rules", metadata: ["reason": .string(reason)])
        } catch {
            logger.error("cannot restore berth's nftables rules", metadata: ["error": .string("\(error)")])
        }
    }

    // MARK: changes

    func addNetwork(_ network: FirewallNetwork) throws(BerthError) {
        guard networks[network.bridge] != network else { return }
        if let old = networks[network.bridge] { try nftables.run(Ruleset.removeNetwork(old)) }
        try nftables.run(Ruleset.addNetwork(network))
        networks[network.bridge] = network
    }

    func removeNetwork(bridge: String) throws(BerthError) {
        guard let network = networks[bridge] else { return }
        try nftables.run(Ruleset.removeNetwork(network))
        networks[bridge] = nil
    }

    func updateRemoteContainers(adding: [IPv4Address], removing: [IPv4Address]) throws(BerthError) {
        let added = Set(adding).subtracting(remoteContainers)
        let removed = Set(removing).subtracting(adding).intersection(remoteContainers)
        guard !added.isEmpty || !removed.isEmpty else { return }
        try nftables.run(Ruleset.updateRemoteContainers(
            adding: added.sorted { $0.value < $1.value }, removing: removed.sorted { $0.value < $1.value }))
        remoteContainers.formUnion(added)
        remoteContainers.subtract(removed)
    }

    /// Chooses host ports, holds them, and adds the DNAT entries (replacing the
    /// container's earlier ones), all or nothing.
    func publish(container: String, requests: [PortRequest], ipv4: IPv4Address?, ipv6: IPv6Address?) throws(BerthError) -> [PortMapping] {
        var taken = TakenPorts()
        for (owner, mappings) in published where owner != container {
            for mapping in mappings { taken.insert(mapping.hostKey) }
        }
        var chosen: [PortMapping] = []
        do throws(BerthError) {
            for request in requests {
                let mappings = try choose(request, ipv4: ipv4, ipv6: ipv6, taken: taken)
                for mapping in mappings { taken.insert(mapping.hostKey) }
                chosen += mappings
            }
            let previous = published[container] ?? []
            let kept = Set(chosen.map(\.hostKey))
            for mapping in chosen { try serveRelay(mapping) }
            var script = ""
            if !previous.isEmpty { script += Ruleset.removePorts(previous) }
            script += Ruleset.addPorts(chosen)
            try nftables.run(script)
            for mapping in previous where !kept.contains(mapping.hostKey) {
                relay?.stop(key: mapping.hostKey.description)
                reservations.release(mapping.hostKey)
            }
            published[container] = chosen
            return chosen
        } catch {
            let kept = Set((published[container] ?? []).map(\.hostKey))
            for mapping in chosen where !kept.contains(mapping.hostKey) {
                relay?.stop(key: mapping.hostKey.description)
                reservations.release(mapping.hostKey)
            }
            throw error
        }
    }

    /// Removes a container's DNAT entries and frees its host ports.
    func removePorts(of container: String) {
        guard let mappings = published.removeValue(forKey: container) else { return }
        for mapping in mappings {
            relay?.stop(key: mapping.hostKey.description)
            reservations.release(mapping.hostKey)
        }
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

    /// Guards container ports (replacing what a port had before), in one transaction.
    func guardEndpoints(_ endpoints: [GuardedEndpoint]) throws(BerthError) {
        let latest = Dictionary(endpoints.map { ($0.port, $0) }, uniquingKeysWith: { $1 })
        let changed = latest.values.filter { guarded[$0.port] != $0 }
        guard !changed.isEmpty else { return }
        let replaced = changed.compactMap { guarded[$0.port] }
        let here = { (endpoint: GuardedEndpoint) in endpoint.namespace == nil }
        try guardBatch.apply(removing: replaced.filter(here), adding: changed.filter(here))
        for endpoint in replaced where !here(endpoint) { guarded[endpoint.port] = nil }
        for endpoint in changed where here(endpoint) { guarded[endpoint.port] = endpoint }
        // Overlay ports, per namespace; one that fails leaves the others guarded.
        var failure: BerthError?
        for (path, endpoints) in Dictionary(grouping: changed.filter { !here($0) }, by: { $0.namespace ?? "" }) {
            let stale = replaced.filter { $0.namespace == path }
            do throws(BerthError) {
                try guardInNamespace(path, removing: stale, adding: endpoints)
                for endpoint in endpoints { guarded[endpoint.port] = endpoint }
            } catch {
                failure = error
            }
        }
        for endpoint in replaced where !here(endpoint) { dropNamespaceGuardIfUnused(endpoint.namespace) }
        if let failure { throw failure }
    }

    /// Stops guarding ports; ports not guarded are skipped.
    func unguard(ports: [String]) {
        let allRemoved = Set(ports).compactMap { guarded.removeValue(forKey: $0) }
        for (path, endpoints) in Dictionary(grouping: allRemoved.filter { $0.namespace != nil }, by: { $0.namespace ?? "" }) {
            do { try namespaceGuards[path]?.apply(removing: endpoints, adding: []) } catch {
                // Its table is rebuilt whole the next time a port there is guarded.
                namespaceGuards[path] = nil
            }
            dropNamespaceGuardIfUnused(path)
        }
        let removed = allRemoved.filter { $0.namespace == nil }
        guard !removed.isEmpty else { return }
        do {
            try guardBatch.apply(removing: removed, adding: [])
        } catch {
            // As for published ports: the kernel's table is not what we think; rewrite it.
            logger.warning("removing guarded ports failed; rewriting berth's table", metadata: ["error": .string("\(error)")])
            do { try applyAll() } catch {
                logger.error("cannot rewrite berth's nftables table", metadata: ["error": .string("\(error)")])
            }
        }
    }

    // MARK: internals

    /// Guards ports on a bridge in another namespace; the first there installs its table.
    private func guardInNamespace(_ path: String, removing: [GuardedEndpoint], adding: [GuardedEndpoint]) throws(BerthError) {
        if let existing = namespaceGuards[path] {
            try existing.apply(removing: removing, adding: adding)
            return
        }
        let namespaceGuard = try NamespaceGuard(path: path)
        try namespaceGuard.install(adding)
        namespaceGuards[path] = namespaceGuard
    }

    /// Closes the sockets into a namespace none of whose ports is guarded any more: they
    /// would keep the namespace, and the overlay's devices in it, alive after its network
    /// is removed.
    private func dropNamespaceGuardIfUnused(_ path: String?) {
        guard let path, !guarded.values.contains(where: { $0.namespace == path }) else { return }
        namespaceGuards[path] = nil
    }

    /// Host-firewall mode: the relay serves the port's held socket.
    private func serveRelay(_ mapping: PortMapping) throws(BerthError) {
        guard let relay else { return }
        guard let descriptor = reservations.duplicate(mapping.hostKey) else {
            throw BerthError(.internal, "host port \(mapping.hostKey) is not held")
        }
        // The relay owns the descriptor from here, failure included.
        try relay.serve(key: mapping.hostKey.description, descriptor: descriptor,
                        transport: mapping.transport == .tcp ? .tcp : .udp,
                        target: mapping.containerIP, port: mapping.containerPort)
    }

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
        let candidates: ClosedRange<UInt16> = request.hostPorts ?? Firewall.ephemeralPorts()
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

    /// berth's table whole (keeping the user's chain), then its rule in other tables.
    private func applyAll() throws(BerthError) {
        let existing: TableListing
        do {
            existing = RulesetListing.table(try nftables.listJSON("list table \(Ruleset.qualified)"),
                                            family: Ruleset.family, name: Ruleset.table)
        } catch {
            existing = TableListing()  // no table yet
        }
        try nftables.run(Ruleset.full(networks: Array(networks.values), ports: published.values.flatMap { $0 }, options: options,
                                      remoteContainers: remoteContainers, existing: existing,
                                      guarded: guarded.values.filter { $0.namespace == nil }))
        do { try reconcileForeignChains() } catch {
            logger.error("cannot put berth's rule in other firewalls' chains", metadata: ["error": .string("\(error)")])
        }
    }

    private func reconcileForeignChains() throws(BerthError) {
        let chains = try listRuleset()
        guard let commands = ForeignChains.reconcile(chains) else { return }
        try nftables.runJSON(commands)
        logger.info("berth's rule is last in other firewalls' drop-policy chains",
                    metadata: ["chains": .string(ForeignChains.guarded(chains).joined(separator: ", "))])
    }

    private func listRuleset() throws(BerthError) -> [ListedChain] {
        RulesetListing.parse(try nftables.listJSON("list ruleset")).chains
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

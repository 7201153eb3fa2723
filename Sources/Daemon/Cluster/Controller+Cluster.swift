import BerthCore
import Cluster
import DNS
import DockerAPI
import Drivers
import Foundation
import IPAM

/// Cluster mode: overlay networks shared through etcd.
///
/// etcd decides everything two nodes could race on (names, VNIs, subnets, addresses);
/// each node then makes its own copy of what etcd holds: the record here, and through
/// the overlay driver the overlay's bridge and VXLAN device, a static forwarding and
/// neighbour entry per container of another node; those containers' names go in the
/// embedded DNS.
extension Controller {
    static let firstVNI: UInt32 = 256
    static let lastVNI: UInt32 = (1 << 24) - 1

    // MARK: joining

    /// First step at start-up, before anything local changes: the advertised address must
    /// be this host's, etcd must answer, and no other node may advertise the same address.
    func prepareCluster() async throws {
        guard let cluster else { return }
        let advertise = cluster.node.address
        guard let underlay = try await worker.underlay(for: advertise) else {
            throw BerthError.invalid("--cluster-advertise \(advertise) is not an address of this host")
        }
        guard underlay.mtu - OverlayDriver.overhead >= 68 else {
            throw BerthError.invalid("the underlay \(underlay.name) has MTU \(underlay.mtu): too small for VXLAN")
        }
        drivers.joined(underlay: underlay)
        try await cluster.join()
    }

    /// After the local state is loaded: brings overlays in line with etcd, writes the
    /// endpoints of containers still running here under the new lease, programs the other
    /// nodes' containers, and follows etcd from then on.
    func synchronizeCluster() async throws {
        guard let cluster else { return }
        let snapshot = try await cluster.snapshot()
        for network in networks.values where drivers.of(network).scope == .global && snapshot.networks[network.id] == nil {
            await dematerialize(network.id)
        }
        await applyCluster(ClusterState().changes(to: snapshot))
        for lost in try await cluster.resynchronize(running: runningClusterEndpoints(), in: snapshot) {
            // Two containers now share an address: say so loudly; the operator picks one.
            logger.error("a container's overlay address could not be reclaimed: another node took it, or its network is gone",
                         metadata: ["container": .string(lost.containerName), "address": .stringConvertible(lost.address)])
        }
        let logger = self.logger
        clusterFollower = Task { [weak self] in
            await ClusterFollower.run(store: cluster, from: snapshot, logger: logger) { [weak self] changes in
                await self?.applyCluster(changes)
            }
        }
    }

    func leaveCluster() async {
        clusterFollower?.cancel()
        clusterFollower = nil
        // Containers keep running: the node's entries expire with its lease unless the
        // daemon is back (and renews them) within the TTL.
        await cluster?.leave(revoke: false)
    }

    // MARK: following

    /// Acts on changes etcd reported, in order. A failed step is logged and the rest go on:
    /// one bad network must not keep a node from following the others.
    func applyCluster(_ changes: [ClusterChange]) async {
        guard let cluster else { return }
        var neighbourChanges: [String: (adding: [RemoteNeighbour], removing: [RemoteNeighbour])] = [:]
        var namesChanged = false
        for change in changes {
            switch change {
            case .networkAdded(let overlay):
                do { try await materialize(overlay) } catch {
                    logger.error("cannot set up overlay network", metadata: ["name": .string(overlay.name), "error": .string("\(error)")])
                }
            case .networkRemoved(let overlay):
                if let vxlan = networks[overlay.id]?.vxlanName { neighbourChanges[vxlan] = nil }
                await dematerialize(overlay.id)
            case .endpointAdded(let endpoint) where endpoint.nodeID != cluster.node.id:
                if let old = remoteEndpoints.updateValue(endpoint, forKey: endpoint.key) { forgetRemote(old) }
                guard let network = networks[endpoint.networkID], let vxlan = network.vxlanName else { continue }
                let address = endpoint.address
                // Already taken here: etcd gave the address to one endpoint only, so it is
                // this one's (an earlier event of the same endpoint, or a claim of ours it won).
                try? networks.take(address, on: network.id)
                addRemoteNames(endpoint)
                namesChanged = true
                let neighbour = Self.neighbour(endpoint); neighbourChanges[vxlan, default: ([], [])].adding.append(neighbour)
            case .endpointRemoved(let endpoint) where endpoint.nodeID != cluster.node.id:
                guard let known = remoteEndpoints.removeValue(forKey: endpoint.key) else { continue }
                forgetRemote(known)
                namesChanged = true
                if let vxlan = networks[known.networkID]?.vxlanName {
                    neighbourChanges[vxlan, default: ([], [])].removing.append(Self.neighbour(known))
                }
            case .endpointAdded, .endpointRemoved:
                break  // this node's own: in place already
            case .nodeAdded(let node):
                logger.info("cluster node up", metadata: ["address": .stringConvertible(node.address), "host": .string(node.hostname)])
            case .nodeRemoved(let node):
                logger.info("cluster node gone", metadata: ["address": .stringConvertible(node.address), "host": .string(node.hostname)])
            }
        }
        // Forwarding entries first: a name must not resolve before its address answers.
        if !neighbourChanges.isEmpty { await drivers.overlay.updateRemotes(neighbourChanges) }
        if namesChanged, let dns { dns.update(dnsRecords) }
    }

    /// Releases what a remote endpoint held here: its address and its names. Its
    /// forwarding entry is removed by the caller, batched with the others.
    private func forgetRemote(_ endpoint: ClusterEndpoint) {
        networks.release(endpoint.address, on: endpoint.networkID)
        let address = IPAddress.v4(endpoint.address)
        dnsRecords.removeContainer(id: endpoint.containerID, name: endpoint.containerName,
                                   endpoints: [DNSEndpoint(network: endpoint.networkID, addresses: [address], aliases: endpoint.aliases)])
    }

    /// Names of containers on other nodes: resolvable by every container here on the same
    /// overlay. They never ask this node's DNS themselves, so they are no requesters here.
    func addRemoteNames(_ endpoint: ClusterEndpoint) {
        let address = IPAddress.v4(endpoint.address)
        dnsRecords.add(names: [endpoint.containerName] + endpoint.aliases, addresses: [address], network: endpoint.networkID)
        dnsRecords.add(names: [String(endpoint.containerID.prefix(12))], addresses: [address], network: endpoint.networkID, reverse: false)
    }

    static func neighbour(_ endpoint: ClusterEndpoint) -> RemoteNeighbour {
        RemoteNeighbour(address: endpoint.address, mac: endpoint.mac, vtep: endpoint.node)
    }

    // MARK: this node's copy of an overlay

    /// Makes the overlay exist on this node (idempotent): record, address pool, devices,
    /// firewall entries and DNS.
    func materialize(_ overlay: OverlayNetwork) async throws {
        let driver = drivers.overlay
        let isNew = networks[overlay.id] == nil
        let record: NetworkRecord
        if let existing = networks[overlay.id] {
            record = existing
        } else {
            if let clash = networks.values.first(where: { $0.name == overlay.name }) {
                throw BerthError.conflict("a local \(clash.driver) network is named \(overlay.name) too")
            }
            var fresh = NetworkRecord(
                id: overlay.id, name: overlay.name, driver: driver.name, created: overlay.created,
                bridgeName: nil, subnet: overlay.subnet, gateway: overlay.gateway, ipRange: overlay.ipRange,
                auxiliaryAddresses: [:], subnet6: nil, gateway6: nil, enableIPv6: false, isInternal: overlay.isInternal,
                attachable: overlay.attachable, options: overlay.options, labels: overlay.labels, predefined: false,
                mtu: configuration.mtu, vni: overlay.vni)
            try driver.configure(&fresh)
            record = fresh
            // Taken before the first await, so a concurrent materialize sees it.
            networks.add(record, pools: try AddressPools(for: record))
            for endpoint in remoteEndpoints.values where endpoint.networkID == record.id {
                // Ignored when taken: two remote containers on one address is etcd's to
                // prevent, and the later one's entry replaces the earlier's.
                try? networks.take(endpoint.address, on: record.id)
            }
        }
        // Containers of other nodes already known (the devices may be new: a reboot, an
        // earlier failure) are programmed with the devices.
        let known = remoteEndpoints.values.filter { $0.networkID == record.id }.map(Self.neighbour)
        try await Steps.run("set-up of overlay network \(record.name)", logger: logger) { undo in
            if isNew {
                undo.add("forget the network") { self.networks.remove(id: record.id) }
                try await driver.create(record)
                undo.add("remove its devices and rules") { try await driver.delete(record) }
            } else {
                try await driver.restore(record, adopting: false)
            }
            try await driver.addRemotes(known, to: record)
            if isNew { try save(record) }
        }
        if isNew {
            await syncDNSListeners()
            publishDNS()
            logger.info("overlay network ready", metadata: ["name": .string(record.name), "vni": .stringConvertible(overlay.vni)])
        }
    }

    /// Removes this node's copy of an overlay that is gone from the cluster. Kept while a
    /// container here still runs on it (its endpoint was lost with an expired lease).
    func dematerialize(_ id: String) async {
        guard let record = networks[id], drivers.of(record).scope == .global else { return }
        let running = containersUsing(record).filter(\.isRunning)
        guard running.isEmpty else {
            logger.warning("overlay network removed from the cluster but still used here",
                           metadata: ["name": .string(record.name), "containers": .string(running.map(\.name).joined(separator: ","))])
            return
        }
        networks.remove(id: id)
        var remoteAddresses: [IPv4Address] = []
        for (key, endpoint) in remoteEndpoints where endpoint.networkID == id {
            remoteEndpoints[key] = nil
            remoteAddresses.append(endpoint.address)
        }
        await drivers.overlay.forgetRemotes(remoteAddresses)
        do { try store.delete(record.storeKey) } catch {
            logger.warning("cannot forget the network", metadata: ["name": .string(record.name), "error": .string("\(error)")])
        }
        await syncDNSListeners()
        publishDNS()
        if !(await waitForTeardowns(network: id)) {
            logger.warning("network teardowns still running", metadata: ["network": .string(record.name)])
        }
        do { try await drivers.of(record).delete(record) } catch {
            // The cluster decided: the network is gone here whatever is left of its devices
            // (logged step by step by the driver; the next start removes them).
            logger.warning("overlay network removed with leftovers", metadata: ["name": .string(record.name), "error": .string("\(error)")])
            return
        }
        logger.info("overlay network removed", metadata: ["name": .string(record.name)])
    }

    // MARK: API

    /// `network create -d overlay`, once the driver validated it: decided by one etcd
    /// transaction, and usable on this node when it returns; the other nodes follow
    /// through their watch.
    func createOverlayNetwork(_ request: NetworkCreateRequest) async throws -> NetworkRecord {
        guard let cluster else {
            throw BerthError.invalid("overlay networks need a cluster store: start berthd with --cluster-store and --cluster-advertise")
        }
        let pool = (request.IPAM?.Config ?? []).first { $0.Subnet != nil || $0.Gateway != nil || $0.IPRange != nil }
        let requestedSubnet = try pool?.Subnet.map { text throws(BerthError) in try AddressValidation.subnet4(text) }
        let options = request.Options ?? [:]
        let name = request.Name
        let localNetworks = networks.values.filter { drivers.of($0).scope == .local }.compactMap { network in
            network.subnet.map { (network.name, $0) }
        }
        let hostNetworks = try await worker.hostNetworks(excludingBridges: networks.values.compactMap(\.bridgeName))
        if let requestedSubnet {
            try AddressValidation.checkFree(.v4(requestedSubnet),
                                            inUse: try await worker.prefixesInUse(excludingBridges: networks.values.compactMap(\.bridgeName)))
        }
        guard let poolBase = SubnetPool.overlayBase else { throw BerthError(.internal, "bad overlay pool") }
        let id = Identifiers.random()
        let created = Self.timestamp()
        let gatewayText = pool?.Gateway
        let rangeText = pool?.IPRange
        let overlay = try await cluster.createNetwork { existing throws(BerthError) -> OverlayNetwork in
            if existing.contains(where: { $0.name == name }) {
                throw BerthError.conflict("network with name \(name) already exists")
            }
            let taken = existing.map { network in (network.name, network.subnet) } + localNetworks
            let subnet: IPv4Network
            if let requestedSubnet {
                if let clash = taken.first(where: { $0.1.overlaps(requestedSubnet) }) {
                    throw BerthError.conflict("subnet \(requestedSubnet) overlaps with network \(clash.0) (\(clash.1))")
                }
                subnet = requestedSubnet
            } else {
                subnet = try SubnetPool.firstFree(in: poolBase, prefixLength: 24, avoiding: taken.map(\.1) + hostNetworks)
            }
            let gateway: IPv4Address
            if let gatewayText {
                gateway = try AddressValidation.gateway4(gatewayText, in: subnet)
            } else {
                gateway = try AddressValidation.firstHost(of: subnet)
            }
            let ipRange = try rangeText.map { text throws(BerthError) in try AddressValidation.range4(text, in: subnet) }
            let used = Set(existing.map(\.vni))
            guard let vni = (Self.firstVNI...Self.lastVNI).first(where: { !used.contains($0) }) else {
                throw BerthError(.exhausted, "no VXLAN network identifier is free")
            }
            return OverlayNetwork(
                id: id, name: name, subnet: subnet, gateway: gateway, ipRange: ipRange,
                vni: vni, created: created, attachable: request.Attachable ?? false, isInternal: request.Internal ?? false,
                options: options, labels: request.Labels ?? [:])
        }
        do {
            try await materialize(overlay)
        } catch {
            do { try await cluster.removeNetwork(overlay) } catch {
                // The other nodes keep a network this node could not set up; `network rm` removes it.
                logger.error("cannot withdraw an overlay network this node failed to set up", metadata: [
                    "name": .string(overlay.name), "error": .string("\(error)")])
            }
            throw error
        }
        guard let record = networks[overlay.id] else { throw BerthError.notFound("network \(name) was removed meanwhile") }
        logger.info("overlay network created", metadata: ["name": .string(name), "subnet": .stringConvertible(overlay.subnet)])
        emit(network: record, "create")
        return record
    }

    func removeOverlayNetwork(_ network: NetworkRecord) async throws {
        guard let cluster else { throw BerthError.invalid("overlay networks need a cluster store") }
        guard let overlay = Self.overlay(network) else { throw BerthError(.internal, "network \(network.name) has no VNI") }
        try await cluster.removeNetwork(overlay)
        await dematerialize(network.id)
        emit(network: network, "destroy")
    }

    static func overlay(_ network: NetworkRecord) -> OverlayNetwork? {
        guard let vni = network.vni, let subnet = network.subnet, let gateway = network.gateway else { return nil }
        return OverlayNetwork(
            id: network.id, name: network.name, subnet: subnet, gateway: gateway, ipRange: network.ipRange, vni: vni,
            created: network.created, attachable: network.attachable, isInternal: network.isInternal,
            options: network.options, labels: network.labels)
    }

    // MARK: addresses

    func clusterEndpoint(_ endpoint: EndpointRecord, of container: ContainerRecord) -> ClusterEndpoint? {
        guard let network = networks[endpoint.networkID], let overlay = drivers.of(network) as? OverlayDriver else { return nil }
        return overlay.clusterEndpoint(endpoint, of: container)
    }

    func runningClusterEndpoints() -> [ClusterEndpoint] {
        containers.values.filter(\.state.isSettledRunning).flatMap { container in
            container.endpoints.compactMap { clusterEndpoint($0, of: container) }
        }
    }

    /// Claims a starting container's addresses where their driver shares them beyond
    /// this node (overlay: in etcd). The local pool made the first guess; an address
    /// another node took meanwhile stays marked taken here (its endpoint will arrive
    /// through the watch) and the next one is tried.
    func claimClusterAddresses(_ endpoints: inout [EndpointRecord], for container: ContainerRecord) async throws {
        for index in endpoints.indices {
            guard let network = networks[endpoints[index].networkID] else { continue }
            let driver = drivers.of(network)
            guard driver.claimsAddresses else { continue }
            var attempts = 0
            while !(try await driver.claim(endpoints[index], of: container)) {
                attempts += 1
                guard endpoints[index].requestedIPv4 == nil else {
                    let address = endpoints[index].ipv4?.description ?? ""
                    throw BerthError.conflict("address \(address) is already in use on network \(network.name)")
                }
                guard attempts < 64 else {
                    throw BerthError(.exhausted, "no free address found on network \(network.name)")
                }
                let next = try networks.next(on: network.id)
                endpoints[index].ipv4 = next
                if endpoints[index].requestedMAC == nil { endpoints[index].mac = MACAddress(derivedFrom: next) }
            }
        }
    }

    /// Gives back what `claimClusterAddresses` claimed, in the background: the caller does
    /// not wait, and a claim that was never made is left alone.
    func releaseClusterAddresses(_ endpoints: [EndpointRecord], of container: ContainerRecord) {
        for endpoint in endpoints {
            guard let network = networks[endpoint.networkID] else { continue }
            let driver = drivers.of(network)
            if driver.claimsAddresses { driver.release([endpoint], of: container) }
        }
    }
}

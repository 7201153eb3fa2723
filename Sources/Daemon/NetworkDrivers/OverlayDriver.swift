import BerthCore
import Cluster
import DockerAPI
import Drivers
import Firewall
import Logging

/// Docker's overlay driver over etcd: each node makes its own copy of an overlay, a bridge
/// on the host and a VXLAN device in a namespace of the overlay's own
/// (`<exec-root>/overlays/<id>`), with a static entry per container of another node.
/// Which networks exist, their VNIs and their addresses are decided in etcd (see
/// `Controller+Cluster`); this driver makes and removes the kernel's part.
struct OverlayDriver: BridgedDriver {
    static let name = "overlay"
    static let overhead = 50  // outer Ethernet, IPv4, UDP and VXLAN headers
    let bridged: BridgedNetwork
    /// Nil without `--cluster-store`: then overlays are refused at create.
    let cluster: ClusterStore?
    /// The interface carrying this node's advertised address; known once the node joined.
    let underlay: Underlay?
    let overlaysDirectory: String

    var name: String { Self.name }
    var scope: NetworkScope { .global }
    var connectsContainers: Bool { true }

    /// Masquerading applies to an overlay's bridge on each node as to a bridge network's;
    /// icc is read only to refuse false (see `validate`).
    static let options = DriverOptions(
        driver: name, known: [DriverOptions.icc, DriverOptions.masquerade, DriverOptions.antiSpoofing],
        booleans: [DriverOptions.icc, DriverOptions.masquerade, DriverOptions.antiSpoofing],
        namespaces: ["com.docker.network.bridge.", "com.docker.network.driver.", DriverOptions.berthNamespace])

    func validate(_ request: NetworkCreateRequest) throws(BerthError) {
        try Self.validate(request, clustered: cluster != nil)
    }

    static func validate(_ request: NetworkCreateRequest, clustered: Bool) throws(BerthError) {
        guard clustered else {
            throw BerthError.invalid("overlay networks need a cluster store: start berthd with --cluster-store and --cluster-advertise")
        }
        guard !(request.EnableIPv6 ?? false) else { throw BerthError.invalid("IPv6 on overlay networks is not supported") }
        let pools = (request.IPAM?.Config ?? []).filter { $0.Subnet != nil || $0.Gateway != nil || $0.IPRange != nil }
        guard pools.count <= 1 else { throw BerthError.invalid("an overlay network takes one IPv4 subnet") }
        if let pool = pools.first, pool.Subnet == nil, pool.Gateway != nil || pool.IPRange != nil {
            throw BerthError.invalid("a gateway or ip range needs a subnet")
        }
        if let auxiliary = pools.first?.AuxiliaryAddresses, !auxiliary.isEmpty {
            throw BerthError.invalid("auxiliary addresses are not supported on overlay networks")
        }
        let options = request.Options ?? [:]
        try Self.options.check(options)
        // Docker's `-o encrypted` sets up IPsec between nodes; berth's VXLAN is not encrypted.
        if options["encrypted"] != nil {
            throw BerthError.invalid("option encrypted is not supported: berth does not encrypt overlay traffic")
        }
        // An overlay's containers meet on a bridge in the overlay's own namespace, where
        // the host's firewall does not reach (and Docker's overlay driver ignores it too).
        if DriverOptions.flag(options[DriverOptions.icc]) == false {
            throw BerthError.invalid("\(DriverOptions.icc)=false is a bridge network option; overlay networks do not support it")
        }
    }

    /// Device names from the network's ID, the same on every node; the MTU leaves room
    /// for the VXLAN headers on this node's underlay.
    func configure(_ network: inout NetworkRecord) throws(BerthError) {
        guard let underlay else { throw BerthError(.internal, "cluster mode without an underlay") }
        Self.configure(&network, underlayMTU: underlay.mtu)
    }

    static func configure(_ network: inout NetworkRecord, underlayMTU: Int) {
        let shortID = String(network.id.prefix(12))
        network.bridgeName = "ov-" + shortID
        network.vxlanName = "vx-" + shortID
        network.mtu = underlayMTU - overhead
    }

    func namespacePath(_ network: NetworkRecord) -> String {
        overlaysDirectory + "/" + network.id.prefix(12)
    }

    func overlaySpec(_ network: NetworkRecord) throws(BerthError) -> OverlaySpec {
        guard let cluster, let vni = network.vni, let vxlan = network.vxlanName else {
            throw BerthError(.internal, "network \(network.name) is missing its overlay settings")
        }
        return OverlaySpec(bridge: try BridgedNetwork.bridgeSpec(network), vxlanName: vxlan, vni: vni, local: cluster.node.address,
                           namespacePath: namespacePath(network))
    }

    /// The devices are this network's alone (its namespace is named by its ID), so a
    /// failure removes them whole.
    func create(_ network: NetworkRecord) async throws {
        let spec = try overlaySpec(network)
        do {
            try await bridged.worker.ensureOverlay(spec, underlayIndex: underlay?.index)
            try await bridged.addRules(network)
        } catch {
            await removeDevices(spec, of: network)
            throw error
        }
    }

    func restore(_ network: NetworkRecord, adopting: Bool) async throws {
        try await bridged.worker.ensureOverlay(try overlaySpec(network), underlayIndex: underlay?.index)
    }

    /// Undoes devices this request made; a failure is logged (see BridgeDriver.removeDevice).
    private func removeDevices(_ spec: OverlaySpec, of network: NetworkRecord) async {
        do { try await bridged.worker.removeOverlay(spec) } catch {
            bridged.logger.warning("cannot remove overlay devices", metadata: ["name": .string(network.name), "error": .string("\(error)")])
        }
    }

    func delete(_ network: NetworkRecord) async throws(BerthError) {
        var teardown = Teardown("removing overlay network \(network.name)", logger: bridged.logger)
        await bridged.removeRules(network, in: &teardown)
        await teardown.step("removing its devices") { try await bridged.worker.removeOverlay(try overlaySpec(network)) }
        if let error = teardown.error { throw error }
    }

    /// The host end is in the overlay's namespace, which the teardown thread does not
    /// see: it is removed here, before `done`.
    func leave(_ endpoint: EndpointRecord, done: @escaping @Sendable () -> Void) async {
        do { try await bridged.worker.detach(hostInterface: endpoint.hostInterface) } catch {
            // Its namespace goes with the network, and the veth with it.
            bridged.logger.warning("cannot remove an overlay interface", metadata: [
                "interface": .string(endpoint.hostInterface), "error": .string("\(error)")])
        }
        done()
    }

    func removeLeftovers(keeping networks: [NetworkRecord]) async {
        let kept = networks.filter { $0.driver == name }.map(namespacePath)
        await bridged.worker.removeOverlayNamespaces(in: overlaysDirectory, keeping: Set(kept))
    }
}

import BerthCore
import Cluster
import Drivers

/// An overlay's addresses are the cluster's, and each node programs the containers of
/// the others: static forwarding and neighbour entries, and the firewall's set of them.
extension OverlayDriver {
    /// The etcd form of a container's endpoint on an overlay of this node.
    func clusterEndpoint(_ endpoint: EndpointRecord, of container: ContainerRecord) -> ClusterEndpoint? {
        guard let cluster, let address = endpoint.ipv4 else { return nil }
        return ClusterEndpoint(
            endpointID: endpoint.id, networkID: endpoint.networkID, address: address, mac: endpoint.mac, containerID: container.id,
            containerName: container.name, aliases: endpoint.aliases, node: cluster.node.address, nodeID: cluster.node.id)
    }

    var claimsAddresses: Bool { cluster != nil }

    /// etcd creates the address's key only if no node holds it.
    func claim(_ endpoint: EndpointRecord, of container: ContainerRecord) async throws -> Bool {
        guard let cluster, let claim = clusterEndpoint(endpoint, of: container) else { return true }
        return try await cluster.claim(claim)
    }

    func release(_ endpoints: [EndpointRecord], of container: ContainerRecord) {
        guard let cluster else { return }
        let claims = endpoints.compactMap { clusterEndpoint($0, of: container) }
        guard !claims.isEmpty else { return }
        let logger = bridged.logger
        Task {
            for claim in claims {
                do { try await cluster.release(claim) } catch {
                    // The lease still ends it: when this node goes, so does the claim.
                    logger.warning("cannot release an overlay address", metadata: ["address": .stringConvertible(claim.address), "error": .string("\(error)")])
                }
            }
        }
    }

    /// Programs containers of other nodes on a network whose devices may be new.
    func addRemotes(_ neighbours: [RemoteNeighbour], to network: NetworkRecord) async throws {
        guard let vxlan = network.vxlanName else { throw BerthError(.internal, "network \(network.name) has no VXLAN device") }
        try await bridged.worker.updateRemoteNeighbours(vxlan: vxlan, adding: neighbours, removing: [])
        try await bridged.firewall.updateRemoteContainers(adding: neighbours.map(\.address), removing: [])
    }

    /// Changes of remote containers per VXLAN device, in one pass: the firewall first, so
    /// a name never resolves before its address answers. A failure is logged and the
    /// rest go on: one bad network must not keep a node from following the others.
    func updateRemotes(_ changes: [String: (adding: [RemoteNeighbour], removing: [RemoteNeighbour])]) async {
        let added = changes.values.flatMap { $0.adding.map(\.address) }
        let removed = changes.values.flatMap { $0.removing.map(\.address) }
        do {
            try await bridged.firewall.updateRemoteContainers(adding: added, removing: removed)
        } catch {
            bridged.logger.error("cannot update the firewall for remote containers", metadata: ["error": .string("\(error)")])
        }
        for (vxlan, change) in changes {
            do {
                try await bridged.worker.updateRemoteNeighbours(vxlan: vxlan, adding: change.adding, removing: change.removing)
            } catch {
                bridged.logger.error("cannot program remote containers", metadata: ["device": .string(vxlan), "error": .string("\(error)")])
            }
        }
    }

    /// Remote containers of a network going away here: their devices go with it.
    func forgetRemotes(_ addresses: [IPv4Address]) async {
        do { try await bridged.firewall.updateRemoteContainers(adding: [], removing: addresses) } catch {
            bridged.logger.warning("cannot update the firewall for remote containers", metadata: ["error": .string("\(error)")])
        }
    }
}

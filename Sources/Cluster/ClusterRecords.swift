import BerthCore

/// A node of the cluster, registered under its advertised address with the node's lease:
/// when the node stops renewing it, the key and the node's endpoints go away together.
public struct ClusterNode: Codable, Sendable, Equatable {
    public var id: String
    public var address: IPv4Address
    public var hostname: String

    public init(id: String, address: IPv4Address, hostname: String) {
        self.id = id
        self.address = address
        self.hostname = hostname
    }
}

/// An overlay network as every node sees it: the same ID, name, subnet and VNI everywhere.
public struct OverlayNetwork: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var subnet: IPv4Network
    public var gateway: IPv4Address
    public var ipRange: IPv4Network?
    public var vni: UInt32
    public var created: String
    public var attachable: Bool
    public var isInternal: Bool
    public var options: [String: String]
    public var labels: [String: String]

    public init(id: String, name: String, subnet: IPv4Network, gateway: IPv4Address, ipRange: IPv4Network?, vni: UInt32, created: String,
                attachable: Bool, isInternal: Bool, options: [String: String], labels: [String: String]) {
        self.id = id
        self.name = name
        self.subnet = subnet
        self.gateway = gateway
        self.ipRange = ipRange
        self.vni = vni
        self.created = created
        self.attachable = attachable
        self.isInternal = isInternal
        self.options = options
        self.labels = labels
    }
}

/// A container's interface on an overlay network. The key (network + address) is the
/// address's claim: whoever creates it owns the address cluster-wide.
public struct ClusterEndpoint: Codable, Sendable, Equatable {
    /// Unique per start: a release of an earlier start's claim never deletes a newer one.
    public var endpointID: String
    public var networkID: String
    public var address: IPv4Address
    public var mac: MACAddress
    public var containerID: String
    public var containerName: String
    public var aliases: [String]
    /// The VTEP: the advertised address of the node the container runs on.
    public var node: IPv4Address
    public var nodeID: String

    public init(endpointID: String, networkID: String, address: IPv4Address, mac: MACAddress, containerID: String,
                containerName: String, aliases: [String], node: IPv4Address, nodeID: String) {
        self.endpointID = endpointID
        self.networkID = networkID
        self.address = address
        self.mac = mac
        self.containerID = containerID
        self.containerName = containerName
        self.aliases = aliases
        self.node = node
        self.nodeID = nodeID
    }

    public var key: String { ClusterKeys.endpoint(network: networkID, address: address.description) }
}

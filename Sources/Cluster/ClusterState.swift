import Foundation

/// One change to the cluster as a node must act on it.
public enum ClusterChange: Sendable, Equatable {
    case networkAdded(OverlayNetwork)
    case networkRemoved(OverlayNetwork)
    case endpointAdded(ClusterEndpoint)
    case endpointRemoved(ClusterEndpoint)
    case nodeAdded(ClusterNode)
    case nodeRemoved(ClusterNode)
}

/// The cluster's contents as last read from etcd, and the changes between two readings.
/// Pure: the follower feeds it a listing or watch events; the controller acts on the
/// changes it returns.
public struct ClusterState: Sendable, Equatable {
    public private(set) var networks: [String: OverlayNetwork] = [:]
    /// By key (network + address).
    public private(set) var endpoints: [String: ClusterEndpoint] = [:]
    /// By advertised address.
    public private(set) var nodes: [String: ClusterNode] = [:]
    /// The etcd revision this state reflects.
    public private(set) var revision: Int64 = 0

    public init() {}

    /// The state a full listing describes. Values that do not decode are skipped: one bad
    /// key must not stop a node from following the rest.
    public init(listing: [(key: String, value: [UInt8])], revision: Int64) {
        self.revision = revision
        for entry in listing { _ = apply(put: entry.key, value: entry.value, revision: revision) }
    }

    /// Applies a put; returns what changed (nothing for bookkeeping keys or an unchanged value).
    public mutating func apply(put key: String, value: [UInt8], revision: Int64) -> [ClusterChange] {
        self.revision = max(self.revision, revision)
        switch ClusterKeys.parse(key) {
        case .network(let id):
            guard let network = Self.decode(OverlayNetwork.self, value), network.id == id else { return [] }
            let old = networks.updateValue(network, forKey: id)
            if old == network { return [] }
            return (old.map { [.networkRemoved($0)] } ?? []) + [.networkAdded(network)]
        case .endpoint(let networkID, let address):
            guard let endpoint = Self.decode(ClusterEndpoint.self, value),
                  endpoint.networkID == networkID, endpoint.address.description == address else { return [] }
            let old = endpoints.updateValue(endpoint, forKey: key)
            if old == endpoint { return [] }
            return (old.map { [.endpointRemoved($0)] } ?? []) + [.endpointAdded(endpoint)]
        case .node(let address):
            guard let node = Self.decode(ClusterNode.self, value), node.address.description == address else { return [] }
            let old = nodes.updateValue(node, forKey: address)
            if old == node { return [] }
            return (old.map { [.nodeRemoved($0)] } ?? []) + [.nodeAdded(node)]
        case .other:
            return []
        }
    }

    public mutating func apply(delete key: String, revision: Int64) -> [ClusterChange] {
        self.revision = max(self.revision, revision)
        switch ClusterKeys.parse(key) {
        case .network(let id):
            return networks.removeValue(forKey: id).map { [.networkRemoved($0)] } ?? []
        case .endpoint:
            return endpoints.removeValue(forKey: key).map { [.endpointRemoved($0)] } ?? []
        case .node(let address):
            return nodes.removeValue(forKey: address).map { [.nodeRemoved($0)] } ?? []
        case .other:
            return []
        }
    }

    /// What turns `self` into `newer`, in an order a node can apply: new networks before
    /// their endpoints, endpoints gone before their networks.
    public func changes(to newer: ClusterState) -> [ClusterChange] {
        var result: [ClusterChange] = []
        for (id, network) in newer.networks.sorted(by: { $0.key < $1.key }) where networks[id] != network {
            if let old = networks[id] { result.append(.networkRemoved(old)) }
            result.append(.networkAdded(network))
        }
        for (address, node) in newer.nodes.sorted(by: { $0.key < $1.key }) where nodes[address] != node {
            result.append(.nodeAdded(node))
        }
        for (key, endpoint) in endpoints.sorted(by: { $0.key < $1.key }) where newer.endpoints[key] != endpoint {
            result.append(.endpointRemoved(endpoint))
        }
        for (key, endpoint) in newer.endpoints.sorted(by: { $0.key < $1.key }) where endpoints[key] != endpoint {
            result.append(.endpointAdded(endpoint))
        }
        for (address, node) in nodes.sorted(by: { $0.key < $1.key }) where newer.nodes[address] == nil {
            result.append(.nodeRemoved(node))
        }
        for (id, network) in networks.sorted(by: { $0.key < $1.key }) where newer.networks[id] == nil {
            result.append(.networkRemoved(network))
        }
        return result
    }

    /// nil for a record this berthd cannot read (another version's, or damaged): it counts
    /// as absent, so one bad key does not hide the rest of the cluster.
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        try? JSONDecoder().decode(type, from: Data(bytes))
    }
}

/// Where berth keeps its cluster state in etcd. Everything lives under one prefix so a
/// node follows the whole cluster with a single watch.
public enum ClusterKeys {
    public static let root = "/berth/v1/"
    public static let nodes = root + "nodes/"
    public static let networks = root + "networks/"
    public static let names = root + "network-names/"
    public static let vnis = root + "vnis/"
    public static let endpoints = root + "endpoints/"
    /// Touched by every network create and remove: a create compares its revision, so two
    /// creates whose subnets overlap cannot both pass validation at the same moment.
    public static let networksGeneration = root + "networks-generation"

    public static func node(_ address: String) -> String { nodes + address }
    public static func network(_ id: String) -> String { networks + id }
    public static func name(_ name: String) -> String { names + name }
    public static func vni(_ vni: UInt32) -> String { vnis + String(vni) }
    public static func endpoints(of networkID: String) -> String { endpoints + networkID + "/" }
    public static func endpoint(network networkID: String, address: String) -> String { endpoints(of: networkID) + address }

    /// What a key under `root` names.
    public enum Parsed: Equatable, Sendable {
        case node(address: String)
        case network(id: String)
        case endpoint(networkID: String, address: String)
        /// Name and VNI reservations and the generation key: bookkeeping only.
        case other
    }

    public static func parse(_ key: String) -> Parsed {
        guard key.hasPrefix(root) else { return .other }
        if key.hasPrefix(nodes) { return .node(address: String(key.dropFirst(nodes.count))) }
        if key.hasPrefix(networks) { return .network(id: String(key.dropFirst(networks.count))) }
        if key.hasPrefix(endpoints) {
            let rest = key.dropFirst(endpoints.count).split(separator: "/", maxSplits: 1)
            guard rest.count == 2 else { return .other }
            return .endpoint(networkID: String(rest[0]), address: String(rest[1]))
        }
        return .other
    }
}

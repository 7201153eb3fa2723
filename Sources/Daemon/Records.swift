import BerthCore
import DockerAPI
import Firewall

/// A network as persisted under `networks/<id>`.
struct NetworkRecord: Codable, Sendable {
    var id: String
    var name: String
    /// "bridge", "host" or "null" (Docker's name for the none driver).
    var driver: String
    var created: String
    var bridgeName: String?
    var subnet: IPv4Network?
    var gateway: IPv4Address?
    var ipRange: IPv4Network?
    var auxiliaryAddresses: [String: IPv4Address]
    var subnet6: IPv6Network?
    var gateway6: IPv6Address?
    var enableIPv6: Bool
    var isInternal: Bool
    var attachable: Bool
    var options: [String: String]
    var labels: [String: String]
    /// bridge, host and none are made by the daemon and cannot be removed.
    var predefined: Bool
    /// MTU of the bridge and of container interfaces.
    var mtu: Int
    /// Overlay networks: the VXLAN network identifier and this node's VXLAN device.
    var vni: UInt32? = nil
    var vxlanName: String? = nil
    /// Whether the user gave the IPv4 subnet; a container's `--ip` needs it, as in Docker.
    /// Nil in records from before it was kept: taken as given, so they keep working.
    var userSubnet: Bool? = nil

    var storeKey: String { StoreKeys.network(id) }
    /// Containers join it through a veth on a bridge of this node: bridge and overlay networks.
    var hasBridge: Bool { driver == "bridge" || driver == "overlay" }
    var isOverlay: Bool { driver == "overlay" }

    /// The same network on another bridge device (`berthd --bridge` changed between runs).
    func renamed(_ bridge: String) -> NetworkRecord {
        var copy = self
        copy.bridgeName = bridge
        if copy.options[Controller.bridgeNameOption] != nil { copy.options[Controller.bridgeNameOption] = bridge }
        return copy
    }
}

/// One container interface on one network.
struct EndpointRecord: Codable, Sendable {
    var id: String
    var networkID: String
    var networkName: String
    /// The interface name inside the container (eth0, eth1, ...).
    var interfaceName: String
    /// The host end of the veth pair.
    var hostInterface: String
    var ipv4: IPv4Address?
    var prefixLength: Int?
    var gateway: IPv4Address?
    var ipv6: IPv6Address?
    var prefixLength6: Int?
    var gateway6: IPv6Address?
    var mac: MACAddress
    var aliases: [String]
    var links: [String]
    /// What the user asked for, kept so a restart allocates the same way.
    var requestedIPv4: IPv4Address?
    var requestedIPv6: IPv6Address?
    var requestedMAC: MACAddress?

    /// Both families' addresses, for DNS and /etc/hosts.
    var addresses: [IPAddress] { [ipv4.map(IPAddress.v4), ipv6.map(IPAddress.v6)].compactMap { $0 } }
}

/// A requested attachment before the container runs (create, connect while stopped).
struct NetworkAttachment: Codable, Sendable {
    var networkID: String
    var aliases: [String]
    var links: [String]
    var requestedIPv4: IPv4Address?
    var requestedIPv6: IPv6Address?
    var requestedMAC: MACAddress?
}

enum StoreKeys {
    static let networkPrefix = "networks/"
    static let containerPrefix = "containers/"
    static let daemonID = "daemon/id"
    static func network(_ id: String) -> String { networkPrefix + id }
    static func container(_ id: String) -> String { containerPrefix + id }
}

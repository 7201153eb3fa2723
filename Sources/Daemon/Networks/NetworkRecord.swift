import BerthCore
import DockerAPI

/// A network as persisted under `networks/<id>`.
struct NetworkRecord: Codable, Sendable {
    var id: String
    var name: String
    /// The name of its driver in `DriverRegistry`: "bridge", "overlay", "host" or "null"
    /// (Docker's name for the none driver).
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
    /// `--config-only`: a network that only holds IPAM settings, options and labels for
    /// others to take (`--config-from`); no devices, no addresses, no containers. Its pools
    /// are kept as given, unreserved, in `configPools` (Docker allocates nothing for it).
    var configOnly: Bool? = nil
    var configPools: [IPAMSettings.Pool]? = nil
    /// `--config-from NAME`: the config-only network this one took its settings from; that
    /// one cannot be removed while this one exists.
    var configFrom: String? = nil

    var isConfigOnly: Bool { configOnly ?? false }

    var storeKey: String { StoreKeys.network(id) }

    /// The same network on another bridge device (`berthd --bridge` changed between runs).
    func renamed(_ bridge: String) -> NetworkRecord {
        var copy = self
        copy.bridgeName = bridge
        if copy.options[DriverOptions.bridgeName] != nil { copy.options[DriverOptions.bridgeName] = bridge }
        return copy
    }
}

import BerthCore
import DockerAPI
import Firewall

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

    var storeKey: String { StoreKeys.network(id) }

    /// The same network on another bridge device (`berthd --bridge` changed between runs).
    func renamed(_ bridge: String) -> NetworkRecord {
        var copy = self
        copy.bridgeName = bridge
        if copy.options[DriverOptions.bridgeName] != nil { copy.options[DriverOptions.bridgeName] = bridge }
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

enum ContainerStatus: String, Codable, Sendable {
    case created, running, exited, removing
}

/// A container as persisted under `containers/<id>`.
struct ContainerRecord: Codable, Sendable {
    var id: String
    var name: String
    var created: String
    var imageReference: String
    var imageID: String
    var config: ContainerConfig
    var hostConfig: HostConfig
    /// Stored as Docker writes it: a network name ("bridge"), "host", "none" or "container:<id>".
    var networkMode: NetworkMode
    var attachments: [NetworkAttachment]
    var status: ContainerStatus
    var pid: Int32
    /// /proc start time of `pid`, so a reused pid is never mistaken for the container.
    var pidStartTime: UInt64
    var exitCode: Int32
    var error: String
    var startedAt: String
    var finishedAt: String
    /// The bound network namespace file while running (nil for host mode).
    var sandboxPath: String?
    /// Live interfaces while running.
    var endpoints: [EndpointRecord]
    /// Published ports with the host ports chosen, while running.
    var publishedPorts: [PortMapping]?

    var storeKey: String { StoreKeys.container(id) }
    var shortID: String { String(id.prefix(12)) }
    var isRunning: Bool { status == .running }

    /// The command the container runs: entrypoint then cmd.
    var command: [String] { (config.Entrypoint ?? []) + (config.Cmd ?? []) }
}

enum StoreKeys {
    static let networkPrefix = "networks/"
    static let containerPrefix = "containers/"
    static let daemonID = "daemon/id"
    static func network(_ id: String) -> String { networkPrefix + id }
    static func container(_ id: String) -> String { containerPrefix + id }
}

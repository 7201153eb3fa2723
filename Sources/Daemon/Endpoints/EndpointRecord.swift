import BerthCore
import DockerAPI

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
    /// `IPAMConfig` and `DriverOpts` as the request had them, shown back by inspect as Docker does.
    var ipamConfig: EndpointSettings.IPAMConfig? = nil
    var driverOpts: [String: String]? = nil
}

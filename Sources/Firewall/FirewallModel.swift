import BerthCore

/// What the firewall needs to know about one bridge network.
public struct FirewallNetwork: Sendable, Hashable {
    /// The Linux bridge's name; the rules match on it.
    public var bridge: String
    /// Masquerade traffic leaving through any other interface (Docker's enable_ip_masquerade).
    public var masquerade: Bool
    /// `--internal`: nothing in or out except between its own containers.
    public var isInternal: Bool
    /// Has an IPv6 subnet: IPv6 forwarding must be on.
    public var ipv6: Bool
    /// Inter-container traffic is off (icc=false): its bridge ports are isolated.
    public var isolated: Bool
    /// Where berthd answers the network's containers' DNS queries (its gateway, on user
    /// networks): the host's input path must let those queries in.
    public var dnsServer: IPv4Address?

    public init(bridge: String, masquerade: Bool, isInternal: Bool, ipv6: Bool = false, isolated: Bool = false,
                dnsServer: IPv4Address? = nil) {
        self.bridge = bridge
        self.masquerade = masquerade
        self.isInternal = isInternal
        self.ipv6 = ipv6
        self.isolated = isolated
        self.dnsServer = dnsServer
    }
}

public enum TransportProtocol: String, Sendable, Hashable, Codable, CaseIterable {
    case tcp, udp
}

/// One published port: traffic to `hostIP:hostPort` (any local address when `hostIP`
/// is nil) goes to `containerIP:containerPort`.
public struct PortMapping: Sendable, Hashable, Codable, CustomStringConvertible {
    public var hostIP: IPAddress?
    public var hostPort: UInt16
    public var transport: TransportProtocol
    public var containerIP: IPAddress
    public var containerPort: UInt16

    public init(hostIP: IPAddress?, hostPort: UInt16, transport: TransportProtocol, containerIP: IPAddress, containerPort: UInt16) {
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.transport = transport
        self.containerIP = containerIP
        self.containerPort = containerPort
    }

    /// The family this mapping serves: the container address decides it.
    public var isIPv6: Bool { !containerIP.isIPv4 }

    /// What the host side occupies; two mappings with one key collide.
    public var hostKey: HostPortKey { HostPortKey(hostIP: hostIP, transport: transport, port: hostPort, ipv6: isIPv6) }

    public var description: String {
        let host = hostIP.map { $0.isIPv4 ? $0.description : "[\($0)]" } ?? (isIPv6 ? "[::]" : "0.0.0.0")
        return "\(host):\(hostPort)->\(containerPort)/\(transport.rawValue)"
    }
}

/// The host side of a published port.
public struct HostPortKey: Sendable, Hashable, CustomStringConvertible {
    public var hostIP: IPAddress?
    public var transport: TransportProtocol
    public var port: UInt16
    public var ipv6: Bool

    /// Whether both cannot be published at once: the same port and protocol on the same
    /// address, or on any address of the family and a specific one.
    public func collides(with other: HostPortKey) -> Bool {
        guard transport == other.transport, port == other.port, ipv6 == other.ipv6 else { return false }
        return hostIP == nil || other.hostIP == nil || hostIP == other.hostIP
    }

    public var description: String {
        let host = hostIP.map { $0.isIPv4 ? $0.description : "[\($0)]" } ?? (ipv6 ? "[::]" : "0.0.0.0")
        return "\(host):\(port)/\(transport.rawValue)"
    }
}

/// Who decides whether a published port answers traffic from outside the host.
public enum PublishedPortsMode: String, Sendable, Hashable, CaseIterable {
    /// Docker's way: DNAT before the host's input path, so a published port answers
    /// whatever the host firewall's input policy says (its forward rules still apply).
    case nat
    /// The host firewall's input rules decide, as for any port of the host: traffic from
    /// outside goes up the input path to berthd, which relays what arrives.
    case hostFirewall = "host-firewall"
}

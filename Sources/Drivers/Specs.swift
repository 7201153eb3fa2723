import BerthCore

/// A bridge network's device: name, gateway address with the subnet's prefix, MTU.
public struct BridgeSpec: Sendable, Equatable {
    public var name: String
    public var gateway: IPv4Network
    public var gateway6: IPv6Network?
    public var mtu: Int
    /// Set explicitly: a bridge without one takes the lowest MAC of its ports, so it would
    /// change as containers come and go and leave their ARP entries for the gateway stale.
    public var mac: MACAddress

    public init(name: String, gateway: IPv4Network, gateway6: IPv6Network?, mtu: Int) {
        self.name = name
        self.gateway = gateway
        self.gateway6 = gateway6
        self.mtu = mtu
        mac = MACAddress(derivedFrom: gateway.address)
    }
}

/// One container interface: a veth pair whose host end joins `bridgeName` and whose
/// container end is `containerName` with the given addresses.
public struct InterfaceSpec: Sendable, Equatable {
    public var hostName: String
    public var containerName: String
    public var bridgeName: String
    public var mac: MACAddress
    public var address: IPv4Network
    /// nil on internal networks: no default route.
    public var gateway: IPv4Address?
    public var address6: IPv6Network?
    public var gateway6: IPv6Address?
    public var mtu: Int
    /// The host end's interface group: the firewall keeps ports of one group from
    /// talking to each other (icc=false). nil leaves the default group.
    public var portGroup: UInt32?

    public init(hostName: String, containerName: String, bridgeName: String, mac: MACAddress, address: IPv4Network,
                gateway: IPv4Address?, address6: IPv6Network?, gateway6: IPv6Address?, mtu: Int, portGroup: UInt32? = nil) {
        self.hostName = hostName
        self.containerName = containerName
        self.bridgeName = bridgeName
        self.mac = mac
        self.address = address
        self.gateway = gateway
        self.address6 = address6
        self.gateway6 = gateway6
        self.mtu = mtu
        self.portGroup = portGroup
    }
}

/// A container's network namespace (bound at `path`) and its interfaces.
public struct SandboxSpec: Sendable, Equatable {
    public var path: String
    public var interfaces: [InterfaceSpec]

    public init(path: String, interfaces: [InterfaceSpec]) {
        self.path = path
        self.interfaces = interfaces
    }
}

/// A configured container namespace: its file, and the host end's name of each interface
/// in the spec's order.
public struct Sandbox: Sendable, Equatable {
    public var path: String
    public var hostInterfaces: [String]

    public init(path: String, hostInterfaces: [String]) {
        self.path = path
        self.hostInterfaces = hostInterfaces
    }
}

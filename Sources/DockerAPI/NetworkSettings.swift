/// A container's settings on one network: requested in create/connect, reported in inspect.
public struct EndpointSettings: Codable, Sendable {
    /// Docker's `EndpointIPAMConfig`: each field left out when empty.
    public struct IPAMConfig: Codable, Sendable, Equatable {
        public var IPv4Address: String?
        public var IPv6Address: String?
        public var LinkLocalIPs: [String]?
        public init(IPv4Address: String? = nil, IPv6Address: String? = nil, LinkLocalIPs: [String]? = nil) {
            self.IPv4Address = IPv4Address
            self.IPv6Address = IPv6Address
            self.LinkLocalIPs = LinkLocalIPs
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            if let IPv4Address, !IPv4Address.isEmpty { try container.encode(IPv4Address, forKey: .IPv4Address) }
            if let IPv6Address, !IPv6Address.isEmpty { try container.encode(IPv6Address, forKey: .IPv6Address) }
            if let LinkLocalIPs, !LinkLocalIPs.isEmpty { try container.encode(LinkLocalIPs, forKey: .LinkLocalIPs) }
        }
    }
    public var IPAMConfig: IPAMConfig?
    public var Links: [String]?
    public var Aliases: [String]?
    public var MacAddress: String?
    public var DriverOpts: [String: String]?
    public var NetworkID: String?
    public var EndpointID: String?
    public var Gateway: String?
    public var IPAddress: String?
    public var IPPrefixLen: Int?
    public var IPv6Gateway: String?
    public var GlobalIPv6Address: String?
    public var GlobalIPv6PrefixLen: Int?
    public var DNSNames: [String]?

    public init(IPAMConfig: IPAMConfig? = nil, Links: [String]? = nil, Aliases: [String]? = nil, MacAddress: String? = nil) {
        self.IPAMConfig = IPAMConfig
        self.Links = Links
        self.Aliases = Aliases
        self.MacAddress = MacAddress
    }

    /// Every key of the API 1.47 spec, null when unset, as Docker writes them (its fields
    /// have no omitempty): clients index them without checking (docker-py's `attrs`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.IPAMConfig, forKey: .IPAMConfig)
        try container.encode(Links, forKey: .Links)
        try container.encode(Aliases, forKey: .Aliases)
        try container.encode(MacAddress ?? "", forKey: .MacAddress)
        try container.encode(DriverOpts, forKey: .DriverOpts)
        try container.encode(NetworkID ?? "", forKey: .NetworkID)
        try container.encode(EndpointID ?? "", forKey: .EndpointID)
        try container.encode(Gateway ?? "", forKey: .Gateway)
        try container.encode(IPAddress ?? "", forKey: .IPAddress)
        try container.encode(IPPrefixLen ?? 0, forKey: .IPPrefixLen)
        try container.encode(IPv6Gateway ?? "", forKey: .IPv6Gateway)
        try container.encode(GlobalIPv6Address ?? "", forKey: .GlobalIPv6Address)
        try container.encode(GlobalIPv6PrefixLen ?? 0, forKey: .GlobalIPv6PrefixLen)
        try container.encode(DNSNames, forKey: .DNSNames)
    }
}

/// `NetworkSettings` in container inspect.
public struct NetworkSettings: Codable, Sendable {
    public var Bridge: String
    public var SandboxID: String
    public var SandboxKey: String
    public var HairpinMode: Bool
    public var LinkLocalIPv6Address: String
    public var LinkLocalIPv6PrefixLen: Int
    public var Ports: [String: [PortBinding]?]
    public var Gateway: String
    public var IPAddress: String
    public var IPPrefixLen: Int
    public var IPv6Gateway: String
    public var GlobalIPv6Address: String
    public var GlobalIPv6PrefixLen: Int
    public var MacAddress: String
    public var EndpointID: String
    public var Networks: [String: EndpointSettings]
    /// Deprecated in the spec and always null in Docker's answers, yet still keys of 1.47.
    public var SecondaryIPAddresses: [String]?
    public var SecondaryIPv6Addresses: [String]?

    public init(SandboxID: String, SandboxKey: String, Ports: [String: [PortBinding]?], primary: EndpointSettings?,
                Networks: [String: EndpointSettings]) {
        Bridge = ""
        self.SandboxID = SandboxID
        self.SandboxKey = SandboxKey
        HairpinMode = false
        LinkLocalIPv6Address = ""
        LinkLocalIPv6PrefixLen = 0
        self.Ports = Ports
        Gateway = primary?.Gateway ?? ""
        IPAddress = primary?.IPAddress ?? ""
        IPPrefixLen = primary?.IPPrefixLen ?? 0
        IPv6Gateway = primary?.IPv6Gateway ?? ""
        GlobalIPv6Address = primary?.GlobalIPv6Address ?? ""
        GlobalIPv6PrefixLen = primary?.GlobalIPv6PrefixLen ?? 0
        MacAddress = primary?.MacAddress ?? ""
        EndpointID = primary?.EndpointID ?? ""
        self.Networks = Networks
    }

    /// Every key of the 1.47 spec; the deprecated secondary address lists as Docker's null.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Bridge, forKey: .Bridge)
        try container.encode(SandboxID, forKey: .SandboxID)
        try container.encode(SandboxKey, forKey: .SandboxKey)
        try container.encode(HairpinMode, forKey: .HairpinMode)
        try container.encode(LinkLocalIPv6Address, forKey: .LinkLocalIPv6Address)
        try container.encode(LinkLocalIPv6PrefixLen, forKey: .LinkLocalIPv6PrefixLen)
        try container.encode(Ports, forKey: .Ports)
        try container.encode(SecondaryIPAddresses, forKey: .SecondaryIPAddresses)
        try container.encode(SecondaryIPv6Addresses, forKey: .SecondaryIPv6Addresses)
        try container.encode(EndpointID, forKey: .EndpointID)
        try container.encode(Gateway, forKey: .Gateway)
        try container.encode(GlobalIPv6Address, forKey: .GlobalIPv6Address)
        try container.encode(GlobalIPv6PrefixLen, forKey: .GlobalIPv6PrefixLen)
        try container.encode(IPAddress, forKey: .IPAddress)
        try container.encode(IPPrefixLen, forKey: .IPPrefixLen)
        try container.encode(IPv6Gateway, forKey: .IPv6Gateway)
        try container.encode(MacAddress, forKey: .MacAddress)
        try container.encode(Networks, forKey: .Networks)
    }
}

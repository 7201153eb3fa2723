/// IPAM settings of a network (`IPAM` in create and inspect).
public struct IPAMSettings: Codable, Sendable, Equatable {
    public struct Pool: Codable, Sendable, Equatable {
        public var Subnet: String?
        public var IPRange: String?
        public var Gateway: String?
        public var AuxiliaryAddresses: [String: String]?
        public init(Subnet: String? = nil, IPRange: String? = nil, Gateway: String? = nil, AuxiliaryAddresses: [String: String]? = nil) {
            self.Subnet = Subnet
            self.IPRange = IPRange
            self.Gateway = Gateway
            self.AuxiliaryAddresses = AuxiliaryAddresses
        }
    }
    public var Driver: String?
    public var Config: [Pool]?
    public var Options: [String: String]?
    public init(Driver: String? = "default", Config: [Pool]? = [], Options: [String: String]? = [:]) {
        self.Driver = Driver
        self.Config = Config
        self.Options = Options
    }
}

/// `POST /networks/create`.
public struct NetworkCreateRequest: Codable, Sendable {
    public var Name: String
    public var CheckDuplicate: Bool?
    public var Driver: String?
    public var Scope: String?
    public var Internal: Bool?
    public var Attachable: Bool?
    public var Ingress: Bool?
    public var IPAM: IPAMSettings?
    public var EnableIPv6: Bool?
    public var EnableIPv4: Bool?
    public var Options: [String: String]?
    public var Labels: [String: String]?
    /// `--config-only` / `--config-from`: decoded so that they are refused, not ignored.
    public var ConfigOnly: Bool?
    public var ConfigFrom: ConfigReference?

    public struct ConfigReference: Codable, Sendable {
        public var Network: String?
        public init(Network: String?) { self.Network = Network }
    }

    public init(Name: String, Driver: String? = nil, Internal: Bool? = nil, Attachable: Bool? = nil,
                IPAM: IPAMSettings? = nil, EnableIPv6: Bool? = nil, Options: [String: String]? = nil,
                Labels: [String: String]? = nil) {
        self.Name = Name
        self.Driver = Driver
        self.Internal = Internal
        self.Attachable = Attachable
        self.IPAM = IPAM
        self.EnableIPv6 = EnableIPv6
        self.Options = Options
        self.Labels = Labels
    }
}

/// One container's place on a network, in `GET /networks/{id}`.
public struct NetworkContainer: Codable, Sendable {
    public var Name: String
    public var EndpointID: String
    public var MacAddress: String
    public var IPv4Address: String
    public var IPv6Address: String
    public init(Name: String, EndpointID: String, MacAddress: String, IPv4Address: String, IPv6Address: String) {
        self.Name = Name
        self.EndpointID = EndpointID
        self.MacAddress = MacAddress
        self.IPv4Address = IPv4Address
        self.IPv6Address = IPv6Address
    }
}

/// `GET /networks` and `GET /networks/{id}`.
public struct NetworkResource: Codable, Sendable {
    public struct ConfigReference: Codable, Sendable {
        public var Network: String
        public init(Network: String) { self.Network = Network }
    }
    public var Name: String
    public var Id: String
    public var Created: String
    public var Scope: String
    public var Driver: String
    public var EnableIPv4: Bool
    public var EnableIPv6: Bool
    public var IPAM: IPAMSettings
    public var Internal: Bool
    public var Attachable: Bool
    public var Ingress: Bool
    public var ConfigFrom: ConfigReference
    public var ConfigOnly: Bool
    public var Containers: [String: NetworkContainer]
    public var Options: [String: String]
    public var Labels: [String: String]

    public init(Name: String, Id: String, Created: String, Scope: String, Driver: String, EnableIPv6: Bool,
                IPAM: IPAMSettings, Internal: Bool, Attachable: Bool, Containers: [String: NetworkContainer],
                Options: [String: String], Labels: [String: String]) {
        self.Name = Name
        self.Id = Id
        self.Created = Created
        self.Scope = Scope
        self.Driver = Driver
        EnableIPv4 = true
        self.EnableIPv6 = EnableIPv6
        self.IPAM = IPAM
        self.Internal = Internal
        self.Attachable = Attachable
        Ingress = false
        ConfigFrom = ConfigReference(Network: "")
        ConfigOnly = false
        self.Containers = Containers
        self.Options = Options
        self.Labels = Labels
    }
}

/// `POST /networks/{id}/connect`.
public struct NetworkConnectRequest: Codable, Sendable {
    public var Container: String
    public var EndpointConfig: EndpointSettings?
    public init(Container: String, EndpointConfig: EndpointSettings? = nil) {
        self.Container = Container
        self.EndpointConfig = EndpointConfig
    }
}

/// `POST /networks/{id}/disconnect`.
public struct NetworkDisconnectRequest: Codable, Sendable {
    public var Container: String
    public var Force: Bool?
    public init(Container: String, Force: Bool? = nil) {
        self.Container = Container
        self.Force = Force
    }
}

/// `POST /networks/prune`.
public struct NetworksPruneResponse: Codable, Sendable {
    public var NetworksDeleted: [String]
    public init(NetworksDeleted: [String]) { self.NetworksDeleted = NetworksDeleted }
}

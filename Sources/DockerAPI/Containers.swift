/// One published port (`HostConfig.PortBindings` values).
public struct PortBinding: Codable, Sendable, Equatable {
    public var HostIp: String?
    public var HostPort: String?
    public init(HostIp: String? = nil, HostPort: String? = nil) {
        self.HostIp = HostIp
        self.HostPort = HostPort
    }
}

/// The part of `HostConfig` berth acts on; the create route refuses any other key that is
/// not zero (`CreateRequestRules`).
public struct HostConfig: Codable, Sendable {
    public struct RestartPolicy: Codable, Sendable {
        public var Name: String?
        public var MaximumRetryCount: Int?
        public init(Name: String? = "no", MaximumRetryCount: Int? = 0) {
            self.Name = Name
            self.MaximumRetryCount = MaximumRetryCount
        }
    }
    public var NetworkMode: String?
    public var Links: [String]?
    public var Dns: [String]?
    public var DnsSearch: [String]?
    public var DnsOptions: [String]?
    public var ExtraHosts: [String]?
    public var AutoRemove: Bool?
    public var PortBindings: [String: [PortBinding]]?
    public var PublishAllPorts: Bool?
    public var RestartPolicy: RestartPolicy?
    public var Privileged: Bool?
    /// "" (a pid namespace of its own) is all berth runs; inspect shows it as Docker does.
    public var PidMode: String?
    /// `-v /host:/ctr[:opts]`.
    public var Binds: [String]?
    /// `--mount`.
    public var Mounts: [MountRequest]?
    /// `--tmpfs /path[:opts]`: path → options.
    public var Tmpfs: [String: String]?
    /// `--init`.
    public var Init: Bool?
    public var ReadonlyRootfs: Bool?
    /// The log driver: berth writes Docker's json-file log and nothing else.
    public var LogConfig: LogConfig?
    /// A terminal's initial [height, width] (`run -t`).
    public var ConsoleSize: [UInt16]?

    public struct LogConfig: Codable, Sendable, Equatable {
        public var `Type`: String
        public var Config: [String: String]?
        public init(Type: String, Config: [String: String]? = [:]) {
            self.Type = Type
            self.Config = Config
        }
    }

    public init(NetworkMode: String? = nil, Links: [String]? = nil, Dns: [String]? = nil, DnsSearch: [String]? = nil,
                DnsOptions: [String]? = nil, AutoRemove: Bool? = nil, PortBindings: [String: [PortBinding]]? = nil) {
        self.NetworkMode = NetworkMode
        self.Links = Links
        self.Dns = Dns
        self.DnsSearch = DnsSearch
        self.DnsOptions = DnsOptions
        self.AutoRemove = AutoRemove
        self.PortBindings = PortBindings
    }
}

/// `POST /containers/create` body (and `Config` in inspect).
public struct ContainerConfig: Codable, Sendable {
    public var Hostname: String?
    public var Domainname: String?
    public var User: String?
    public var AttachStdin: Bool?
    public var AttachStdout: Bool?
    public var AttachStderr: Bool?
    public var Tty: Bool?
    public var OpenStdin: Bool?
    /// Close the container's stdin when the attached client's input ends (`docker run -i`).
    public var StdinOnce: Bool?
    public var Env: [String]?
    public var Cmd: [String]?
    public var Image: String?
    public var WorkingDir: String?
    public var Entrypoint: [String]?
    public var Labels: [String: String]?
    public var ExposedPorts: [String: EmptyObject]?
    public var MacAddress: String?
    public var StopTimeout: Int?
    public var StopSignal: String?
    /// Anonymous volumes; clients also list bind targets here.
    public var Volumes: [String: EmptyObject]?

    public init(Hostname: String? = nil, Env: [String]? = nil, Cmd: [String]? = nil, Image: String? = nil,
                Entrypoint: [String]? = nil, Labels: [String: String]? = nil, WorkingDir: String? = nil) {
        self.Hostname = Hostname
        self.Env = Env
        self.Cmd = Cmd
        self.Image = Image
        self.Entrypoint = Entrypoint
        self.Labels = Labels
        self.WorkingDir = WorkingDir
    }

    enum CodingKeys: String, CodingKey {
        case Hostname, Domainname, User, AttachStdin, AttachStdout, AttachStderr, Tty, OpenStdin, StdinOnce, Env, Cmd
        case Image, WorkingDir, Entrypoint, Labels, ExposedPorts, MacAddress, StopTimeout, StopSignal, Volumes
    }

    // Docker clients send `"Entrypoint": "sh"` as well as arrays, and null for empty.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        Hostname = try container.decodeIfPresent(String.self, forKey: .Hostname)
        Domainname = try container.decodeIfPresent(String.self, forKey: .Domainname)
        User = try container.decodeIfPresent(String.self, forKey: .User)
        AttachStdin = try container.decodeIfPresent(Bool.self, forKey: .AttachStdin)
        AttachStdout = try container.decodeIfPresent(Bool.self, forKey: .AttachStdout)
        AttachStderr = try container.decodeIfPresent(Bool.self, forKey: .AttachStderr)
        Tty = try container.decodeIfPresent(Bool.self, forKey: .Tty)
        OpenStdin = try container.decodeIfPresent(Bool.self, forKey: .OpenStdin)
        StdinOnce = try container.decodeIfPresent(Bool.self, forKey: .StdinOnce)
        Env = try container.decodeIfPresent([String].self, forKey: .Env)
        Cmd = try Self.stringOrList(container, .Cmd)
        Image = try container.decodeIfPresent(String.self, forKey: .Image)
        WorkingDir = try container.decodeIfPresent(String.self, forKey: .WorkingDir)
        Entrypoint = try Self.stringOrList(container, .Entrypoint)
        Labels = try container.decodeIfPresent([String: String].self, forKey: .Labels)
        ExposedPorts = try container.decodeIfPresent([String: EmptyObject].self, forKey: .ExposedPorts)
        MacAddress = try container.decodeIfPresent(String.self, forKey: .MacAddress)
        StopTimeout = try container.decodeIfPresent(Int.self, forKey: .StopTimeout)
        StopSignal = try container.decodeIfPresent(String.self, forKey: .StopSignal)
        Volumes = try container.decodeIfPresent([String: EmptyObject].self, forKey: .Volumes)
    }

    private static func stringOrList(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [String]? {
        // Not a list means a single string, whose decoding reports a bad body.
        if let list = try? container.decodeIfPresent([String].self, forKey: key) { return list }
        return try container.decodeIfPresent(String.self, forKey: key).map { [$0] }
    }
}

/// `{}` in JSON (ExposedPorts values).
public struct EmptyObject: Codable, Sendable, Equatable {
    public init() {}
}

/// The full create request: config plus host and networking config.
public struct ContainerCreateRequest: Codable, Sendable {
    public struct Networking: Codable, Sendable {
        public var EndpointsConfig: [String: EndpointSettings]?
        public init(EndpointsConfig: [String: EndpointSettings]? = nil) { self.EndpointsConfig = EndpointsConfig }
    }
    public var config: ContainerConfig
    public var HostConfig: HostConfig?
    public var NetworkingConfig: Networking?

    public init(config: ContainerConfig, HostConfig: HostConfig? = nil, NetworkingConfig: Networking? = nil) {
        self.config = config
        self.HostConfig = HostConfig
        self.NetworkingConfig = NetworkingConfig
    }

    enum ExtraKeys: String, CodingKey { case HostConfig, NetworkingConfig }

    // Docker flattens Config's fields into the top level of the body.
    public init(from decoder: any Decoder) throws {
        config = try ContainerConfig(from: decoder)
        let container = try decoder.container(keyedBy: ExtraKeys.self)
        HostConfig = try container.decodeIfPresent(DockerAPI.HostConfig.self, forKey: .HostConfig)
        NetworkingConfig = try container.decodeIfPresent(Networking.self, forKey: .NetworkingConfig)
    }

    public func encode(to encoder: any Encoder) throws {
        try config.encode(to: encoder)
        var container = encoder.container(keyedBy: ExtraKeys.self)
        try container.encodeIfPresent(HostConfig, forKey: .HostConfig)
        try container.encodeIfPresent(NetworkingConfig, forKey: .NetworkingConfig)
    }
}

/// A published port as `GET /containers/json` lists it.
public struct PortSummary: Codable, Sendable {
    public var IP: String?
    public var PrivatePort: Int
    public var PublicPort: Int?
    public var `Type`: String
    public init(IP: String? = nil, PrivatePort: Int, PublicPort: Int? = nil, Type: String) {
        self.IP = IP
        self.PrivatePort = PrivatePort
        self.PublicPort = PublicPort
        self.Type = Type
    }
}

/// `GET /containers/json`.
public struct ContainerSummary: Codable, Sendable {
    public struct HostConfigSummary: Codable, Sendable {
        public var NetworkMode: String
        public init(NetworkMode: String) { self.NetworkMode = NetworkMode }
    }
    public struct NetworkSettingsSummary: Codable, Sendable {
        public var Networks: [String: EndpointSettings]
        public init(Networks: [String: EndpointSettings]) { self.Networks = Networks }
    }
    public var Id: String
    public var Names: [String]
    public var Image: String
    public var ImageID: String
    public var Command: String
    public var Created: Int64
    public var Ports: [PortSummary]
    public var Labels: [String: String]
    public var State: String
    public var Status: String
    public var HostConfig: HostConfigSummary
    public var NetworkSettings: NetworkSettingsSummary
    public var Mounts: [MountPoint]
    /// Only when the list is asked for with `size`.
    public var SizeRw: Int64?
    public var SizeRootFs: Int64?

    public init(Id: String, Names: [String], Image: String, ImageID: String, Command: String, Created: Int64,
                Ports: [PortSummary], Labels: [String: String], State: String, Status: String,
                NetworkMode: String, Networks: [String: EndpointSettings], Mounts: [MountPoint] = []) {
        self.Id = Id
        self.Names = Names
        self.Image = Image
        self.ImageID = ImageID
        self.Command = Command
        self.Created = Created
        self.Ports = Ports
        self.Labels = Labels
        self.State = State
        self.Status = Status
        HostConfig = .init(NetworkMode: NetworkMode)
        NetworkSettings = .init(Networks: Networks)
        self.Mounts = Mounts
    }
}

/// `State` in `GET /containers/{id}/json`.
public struct ContainerState: Codable, Sendable {
    public var Status: String
    public var Running: Bool
    public var Paused: Bool
    public var Restarting: Bool
    public var OOMKilled: Bool
    public var Dead: Bool
    public var Pid: Int32
    public var ExitCode: Int32
    public var Error: String
    public var StartedAt: String
    public var FinishedAt: String

    public init(Status: String, Running: Bool, Pid: Int32, ExitCode: Int32, Error: String, StartedAt: String, FinishedAt: String) {
        self.Status = Status
        self.Running = Running
        Paused = false
        Restarting = false
        OOMKilled = false
        Dead = false
        self.Pid = Pid
        self.ExitCode = ExitCode
        self.Error = Error
        self.StartedAt = StartedAt
        self.FinishedAt = FinishedAt
    }
}

/// `GET /containers/{id}/json`.
public struct ContainerInspect: Codable, Sendable {
    public var Id: String
    public var Created: String
    public var Path: String
    public var Args: [String]
    public var State: ContainerState
    public var Image: String
    public var ResolvConfPath: String
    public var HostnamePath: String
    public var HostsPath: String
    public var LogPath: String
    public var Name: String
    public var RestartCount: Int
    public var Driver: String
    public var Platform: String
    public var MountLabel: String
    public var ProcessLabel: String
    public var AppArmorProfile: String
    public var ExecIDs: [String]?
    public var HostConfig: HostConfig
    public var Mounts: [MountPoint]
    public var Config: ContainerConfig
    public var NetworkSettings: NetworkSettings

    public init(Id: String, Created: String, Path: String, Args: [String], State: ContainerState, Image: String,
                ResolvConfPath: String, HostnamePath: String, HostsPath: String, LogPath: String, Name: String,
                HostConfig: HostConfig, Config: ContainerConfig, NetworkSettings: NetworkSettings, Mounts: [MountPoint] = []) {
        self.Id = Id
        self.Created = Created
        self.Path = Path
        self.Args = Args
        self.State = State
        self.Image = Image
        self.ResolvConfPath = ResolvConfPath
        self.HostnamePath = HostnamePath
        self.HostsPath = HostsPath
        self.LogPath = LogPath
        self.Name = Name
        RestartCount = 0
        Driver = "overlay2"
        Platform = "linux"
        MountLabel = ""
        ProcessLabel = ""
        AppArmorProfile = ""
        ExecIDs = nil
        self.HostConfig = HostConfig
        self.Mounts = Mounts
        self.Config = Config
        self.NetworkSettings = NetworkSettings
    }
}

/// `POST /containers/{id}/wait`.
public struct WaitResponse: Codable, Sendable {
    public struct WaitError: Codable, Sendable { public var Message: String }
    public var StatusCode: Int32
    public var Error: WaitError?
    public init(StatusCode: Int32) { self.StatusCode = StatusCode }
}

/// The API version berthd speaks and the oldest it accepts, as Docker advertises them.
public enum APIVersion {
    public static let current = "1.47"
    public static let minimum = "1.24"
}

/// `GET /version`.
public struct VersionResponse: Codable, Sendable {
    public struct PlatformName: Codable, Sendable { public var Name: String }
    public struct Component: Codable, Sendable {
        public var Name: String
        public var Version: String
        public var Details: [String: String]?
    }
    public var Platform: PlatformName
    public var Components: [Component]
    public var Version: String
    public var ApiVersion: String
    public var MinAPIVersion: String
    public var GitCommit: String
    public var GoVersion: String
    public var Os: String
    public var Arch: String
    public var KernelVersion: String
    public var BuildTime: String

    public init(version: String, kernel: String, arch: String, commit: String) {
        self.Platform = PlatformName(Name: "berth")
        Components = [.init(Name: "Engine", Version: version, Details: [
            "ApiVersion": APIVersion.current, "MinAPIVersion": APIVersion.minimum,
            "Os": "linux", "Arch": arch, "KernelVersion": kernel,
        ])]
        Version = version
        ApiVersion = APIVersion.current
        MinAPIVersion = APIVersion.minimum
        GitCommit = commit
        GoVersion = "swift"
        Os = "linux"
        Arch = arch
        KernelVersion = kernel
        BuildTime = ""
    }
}

/// `GET /info`, the fields a client reads.
public struct InfoResponse: Codable, Sendable {
    public var ID: String
    public var Containers: Int
    public var ContainersRunning: Int
    public var ContainersPaused: Int
    public var ContainersStopped: Int
    public var Images: Int
    public var Driver: String
    public var DockerRootDir: String
    public var Name: String
    public var ServerVersion: String
    public var OperatingSystem: String
    public var OSType: String
    public var Architecture: String
    public var KernelVersion: String
    public var NCPU: Int
    public var MemTotal: Int64
    public var IndexServerAddress: String
    public var Plugins: [String: [String]]
    public var Warnings: [String]

    public init(id: String, name: String, containers: Int, running: Int, stopped: Int, images: Int,
                rootDir: String, version: String, kernel: String, arch: String, cpus: Int, memory: Int64) {
        ID = id
        Containers = containers
        ContainersRunning = running
        ContainersPaused = 0
        ContainersStopped = stopped
        Images = images
        Driver = "overlay2"
        DockerRootDir = rootDir
        Name = name
        ServerVersion = version
        OperatingSystem = "berth"
        OSType = "linux"
        Architecture = arch
        KernelVersion = kernel
        NCPU = cpus
        MemTotal = memory
        IndexServerAddress = ""
        Plugins = ["Network": ["bridge", "host", "none", "null"], "Volume": [], "Log": ["json-file"]]
        Warnings = []
    }
}

/// `{"message": "..."}`, Docker's error body.
public struct ErrorResponse: Codable, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
}

/// `{"Id": "...", "Warnings": [...]}` for create calls.
public struct IDResponse: Codable, Sendable {
    public var Id: String
    public var Warnings: [String]?
    public var Warning: String?
    public init(Id: String, Warnings: [String]? = nil, Warning: String? = nil) {
        self.Id = Id
        self.Warnings = Warnings
        self.Warning = Warning
    }
}

/// One `HostConfig.Mounts` entry (`--mount`).
public struct MountRequest: Codable, Sendable, Equatable {
    public struct BindOptions: Codable, Sendable, Equatable {
        public var Propagation: String?
        public init(Propagation: String? = nil) { self.Propagation = Propagation }
    }
    public struct TmpfsOptions: Codable, Sendable, Equatable {
        public var SizeBytes: Int64?
        public var Mode: UInt32?
        public init(SizeBytes: Int64? = nil, Mode: UInt32? = nil) {
            self.SizeBytes = SizeBytes
            self.Mode = Mode
        }
    }
    public var `Type`: String?
    public var Source: String?
    public var Target: String?
    public var ReadOnly: Bool?
    public var BindOptions: BindOptions?
    public var TmpfsOptions: TmpfsOptions?

    public init(Type: String?, Source: String? = nil, Target: String?, ReadOnly: Bool? = nil,
                BindOptions: BindOptions? = nil, TmpfsOptions: TmpfsOptions? = nil) {
        self.Type = Type
        self.Source = Source
        self.Target = Target
        self.ReadOnly = ReadOnly
        self.BindOptions = BindOptions
        self.TmpfsOptions = TmpfsOptions
    }
}

/// A mount as inspect and `GET /containers/json` report it.
public struct MountPoint: Codable, Sendable, Equatable {
    public var `Type`: String
    public var Source: String
    public var Destination: String
    public var Mode: String
    public var RW: Bool
    public var Propagation: String

    public init(Type: String, Source: String, Destination: String, Mode: String, RW: Bool, Propagation: String) {
        self.Type = Type
        self.Source = Source
        self.Destination = Destination
        self.Mode = Mode
        self.RW = RW
        self.Propagation = Propagation
    }
}

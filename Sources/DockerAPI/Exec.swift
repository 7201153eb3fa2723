/// `POST /containers/{id}/exec`.
public struct ExecCreateRequest: Codable, Sendable {
    public var AttachStdin: Bool?
    public var AttachStdout: Bool?
    public var AttachStderr: Bool?
    public var Tty: Bool?
    public var Env: [String]?
    public var Cmd: [String]
    public var WorkingDir: String?
    public var User: String?
    public var Detach: Bool?
    /// Keys that end an attached session (Docker's `ctrl-<x>` format).
    public var DetachKeys: String?
    public init(Cmd: [String], Env: [String]? = nil, AttachStdout: Bool = true, AttachStderr: Bool = true) {
        self.Cmd = Cmd
        self.Env = Env
        self.AttachStdout = AttachStdout
        self.AttachStderr = AttachStderr
    }
}

/// `POST /exec/{id}/start`.
public struct ExecStartRequest: Codable, Sendable {
    public var Detach: Bool?
    public var Tty: Bool?
    /// The terminal's initial [height, width] (`exec -t`).
    public var ConsoleSize: [UInt16]?
    public init(Detach: Bool? = false, Tty: Bool? = false) {
        self.Detach = Detach
        self.Tty = Tty
    }
}

/// `GET /exec/{id}/json`.
public struct ExecInspect: Codable, Sendable {
    public struct Process: Codable, Sendable {
        public var entrypoint: String
        public var arguments: [String]
        public var tty: Bool
        public var privileged: Bool
        public var user: String
    }
    public var ID: String
    public var Running: Bool
    public var ExitCode: Int32?
    public var ProcessConfig: Process
    public var OpenStdin: Bool
    public var OpenStderr: Bool
    public var OpenStdout: Bool
    public var CanRemove: Bool
    public var ContainerID: String
    public var DetachKeys: String
    public var Pid: Int32

    public init(ID: String, Running: Bool, ExitCode: Int32?, command: [String], ContainerID: String, Pid: Int32) {
        self.ID = ID
        self.Running = Running
        self.ExitCode = ExitCode
        ProcessConfig = Process(entrypoint: command.first ?? "", arguments: Array(command.dropFirst()), tty: false, privileged: false, user: "")
        OpenStdin = false
        OpenStderr = true
        OpenStdout = true
        CanRemove = false
        self.ContainerID = ContainerID
        DetachKeys = ""
        self.Pid = Pid
    }
}

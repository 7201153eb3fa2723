import BerthCore

/// Everything berthd is told at start.
public struct DaemonConfiguration: Sendable {
    /// Persistent state: the store, images, container directories.
    public var root: String
    /// Runtime state that dies with the machine: namespace files, runc state.
    public var execRoot: String
    /// The API's unix socket.
    public var socketPath: String
    /// The default bridge's device name and gateway CIDR (nil = pick a free subnet).
    public var bridgeName: String
    public var bridgeIP: IPv4Network?
    /// The resolv.conf whose nameservers containers get (tests hand berthd their own).
    public var resolvConfPath: String
    public var hostsPath: String
    public var runcPath: String
    public var mtu: Int
    /// Network namespaces kept ready so a start does not wait for the kernel to make one.
    public var spareNamespaces: Int
    public var version: String
    /// Masquerade containers' outbound traffic (`--ip-masq`, on by default as in Docker).
    public var ipMasquerade: Bool = true
    /// Remove berth's nftables table when the daemon exits (`--cleanup`).
    public var cleanupOnExit: Bool = false

    public init(root: String = "/var/lib/berth", execRoot: String = "/run/berth", socketPath: String = "/run/berth.sock",
                bridgeName: String = "berth0", bridgeIP: IPv4Network? = nil, resolvConfPath: String = "/etc/resolv.conf",
                hostsPath: String = "/etc/hosts", runcPath: String = "runc", mtu: Int = 1500, spareNamespaces: Int = 4,
                version: String = "0.1.0") {
        self.root = root
        self.execRoot = execRoot
        self.socketPath = socketPath
        self.bridgeName = bridgeName
        self.bridgeIP = bridgeIP
        self.resolvConfPath = resolvConfPath
        self.hostsPath = hostsPath
        self.runcPath = runcPath
        self.mtu = mtu
        self.spareNamespaces = spareNamespaces
        self.version = version
    }

    var storePath: String { root + "/berth.db" }
    var imagesDir: String { root + "/images" }
    var containersDir: String { root + "/containers" }
    var netnsDir: String { execRoot + "/netns" }
    var runcRoot: String { execRoot + "/runc" }
    func containerDir(_ id: String) -> String { containersDir + "/" + id }
}

import BerthCore
import Firewall
import Foundation
import IPAM

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
    /// Anti-spoofing on the default bridge's endpoints (`--anti-spoofing`, on by default);
    /// other networks take `-o berth.network.enable_anti_spoofing`.
    public var antiSpoofing: Bool = true
    /// Remove berth's nftables table when the daemon exits (`--cleanup`).
    public var cleanupOnExit: Bool = false
    /// Who decides whether a published port answers from outside (`--published-ports`).
    public var publishedPorts: PublishedPortsMode = .nat
    /// Cluster mode: etcd endpoints (`--cluster-store etcd://h:2379,...`), this node's
    /// underlay address (`--cluster-advertise`), TLS for etcd, and the node lease's TTL.
    public var cluster: ClusterConfiguration?
    /// What to do when the database does not account for what berthd finds
    /// (`--recover`, `--remove-unrecorded`); by default it refuses to start.
    public var stateRecovery: StateRecovery = .refuse
    /// API connections silent this long while berthd waits for a request (or more of its
    /// body) are closed (`--api-idle-timeout`); streams and hijacked sessions never are.
    public var apiIdleTimeoutSeconds: Int = 60
    /// Open API connections at most (`--api-max-connections`); the longest-idle one makes
    /// room for a new one. Also capped by the descriptor limit (see BerthDaemon).
    public var apiMaxConnections: Int = 4096
    /// The init `--init` runs a container's command under (`--init-path`): Debian's tini,
    /// static so it runs in any image.
    public var initPath: String = "/usr/bin/tini-static"
    /// What `--add-host NAME:host-gateway` resolves to (`--host-gateway-ip`); nil: the
    /// default bridge's gateway.
    public var hostGatewayIP: IPAddress?

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

    /// Parses and checks `--bip` (a gateway address with its prefix) as every address is
    /// checked; its overlap with the host's addresses is checked when the daemon starts.
    public static func bridgeIP(_ text: String) throws(BerthError) -> IPv4Network {
        try AddressValidation.bridgeIP(text)
    }

    var storePath: String { root + "/berth.db" }
    /// A copy of every record of the database, one file each (see `MirroredStore`).
    var recordsDir: String { root + "/records" }
    var imagesDir: String { root + "/images" }
    var containersDir: String { root + "/containers" }
    var netnsDir: String { execRoot + "/netns" }
    /// Overlay networks' data-plane namespaces.
    var overlaysDir: String { execRoot + "/overlays" }
    var runcRoot: String { execRoot + "/runc" }
    func containerDir(_ id: String) -> String { containersDir + "/" + id }
}

/// `--cluster-store`, `--cluster-advertise` and `--cluster-store-opt`, as Docker 20.10 takes them.
public struct ClusterConfiguration: Sendable {
    public var store: String
    /// An IPv4 address of this host, or an interface name (its first IPv4 address);
    /// Docker's `:port` suffix is accepted and ignored.
    public var advertise: String
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    /// How long a node may go silent before the others drop its containers.
    public var ttl: Duration = .seconds(20)
    /// How long one etcd request may take before the next member is tried.
    public var timeout: Duration = .seconds(3)

    public init(store: String, advertise: String) {
        self.store = store
        self.advertise = advertise
    }

    /// Applies `--cluster-store-opt KEY=VALUE` (Docker's names: kv.cacertfile, kv.certfile,
    /// kv.keyfile, discovery.ttl in seconds; discovery.heartbeat is accepted: the lease is
    /// renewed every third of the TTL).
    public mutating func apply(option text: String) throws(BerthError) {
        guard let equals = text.firstIndex(of: "=") else {
            throw BerthError.invalid("--cluster-store-opt \(text): want KEY=VALUE")
        }
        let key = text[..<equals].trimmingCharacters(in: .whitespaces)
        let value = String(text[text.index(after: equals)...])
        switch key {
        case "kv.cacertfile": caFile = value
        case "kv.certfile": certFile = value
        case "kv.keyfile": keyFile = value
        case "discovery.ttl":
            guard let seconds = Int(value.hasSuffix("s") ? String(value.dropLast()) : value), (1...3600).contains(seconds) else {
                throw BerthError.invalid("--cluster-store-opt discovery.ttl=\(value): want whole seconds between 1 and 3600")
            }
            ttl = .seconds(seconds)
        case "discovery.heartbeat":
            break
        default:
            throw BerthError.invalid("unknown --cluster-store-opt \(key) (known: kv.cacertfile, kv.certfile, kv.keyfile, discovery.ttl)")
        }
    }
}

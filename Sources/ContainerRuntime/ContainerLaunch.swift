import Glibc

/// Everything the daemon decides about one container that ends up in its OCI spec.
public struct ContainerLaunch: Sendable, Equatable {
    /// How the container gets its network namespace.
    public enum Network: Sendable, Equatable {
        /// Join a namespace the daemon created and wired (a bind-mounted nsfs file,
        /// or /proc/<pid>/ns/net).
        case path(String)
        /// No network namespace entry: the container shares the daemon's (host) network.
        case host
    }

    public var id: String
    /// The prepared root (RootFilesystem.prepare's result).
    public var rootfs: String
    public var args: [String]
    /// "KEY=value" entries from the image and the user, later ones winning.
    public var env: [String]
    public var hostname: String
    public var workingDir: String
    public var network: Network
    /// Also share the host's UTS namespace (Docker does this for host-network containers,
    /// which then see the host's hostname; `hostname` is then only used for $HOSTNAME).
    public var shareHostUTS: Bool
    /// Directory holding the berth-written hosts, hostname and resolv.conf.
    public var filesDir: String
    /// Bind those files read-only into the container.
    public var readonlyFiles: Bool
    /// cgroup parent, e.g. "berth-<daemonid>"; the container's cgroup is "<prefix>/<id>".
    /// Relative prefixes are placed under runc's own cgroup, absolute ones under the root.
    public var cgroupPrefix: String
    public var uid: UInt32
    public var gid: UInt32
    /// RLIMIT_NOFILE soft and hard limit; nil leaves the rlimit out (the container inherits
    /// runc's). Raising it above the daemon's own hard limit needs CAP_SYS_RESOURCE.
    public var openFilesLimit: UInt64?
    /// Supplementary groups of the process user (`--user`, from the container's /etc/group).
    public var additionalGids: [UInt32] = []
    /// `--domainname`; needs the container's own UTS namespace.
    public var domainname: String?
    /// `-v`, `--mount` and `--tmpfs` mounts, after berth's own.
    public var mounts: [ContainerMount] = []
    /// `--init`: this host binary is bound read-only at /sbin/docker-init and runs the command.
    public var initBinary: String?
    /// `--read-only`: the root filesystem is mounted read-only.
    public var readonlyRootfs = false
    /// The process gets a pty (runc hands its master over the console socket).
    public var terminal = false

    public init(id: String, rootfs: String, args: [String], env: [String] = [], hostname: String,
                workingDir: String = "/", network: Network, shareHostUTS: Bool = false,
                filesDir: String, readonlyFiles: Bool = false, cgroupPrefix: String,
                uid: UInt32 = 0, gid: UInt32 = 0,
                openFilesLimit: UInt64? = ContainerLaunch.daemonOpenFilesHardLimit) {
        self.id = id
        self.rootfs = rootfs
        self.args = args
        self.env = env
        self.hostname = hostname
        self.workingDir = workingDir
        self.network = network
        self.shareHostUTS = shareHostUTS
        self.filesDir = filesDir
        self.readonlyFiles = readonlyFiles
        self.cgroupPrefix = cgroupPrefix
        self.uid = uid
        self.gid = gid
        self.openFilesLimit = openFilesLimit
    }

    /// This process's RLIMIT_NOFILE hard limit (nil when unlimited): the highest value a container can get without
    /// CAP_SYS_RESOURCE, and what Docker containers usually see (soft raised to hard).
    public static var daemonOpenFilesHardLimit: UInt64? {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_RESOURCE, &limit) == 0, limit.rlim_max != rlim_t.max else { return nil }
        return UInt64(limit.rlim_max)
    }
}

/// Glibc imports RLIMIT_NOFILE as an enum case of __rlimit_resource.
private let RLIMIT_NOFILE_RESOURCE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

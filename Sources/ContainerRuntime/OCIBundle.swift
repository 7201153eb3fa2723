import BerthCore
import Foundation

/// Builds Docker-equivalent OCI specs and writes runc bundles.
public enum OCIBundle {
    public static let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Docker's default capability set (moby oci/caps/defaults.go).
    public static let defaultCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    /// Kernel interfaces hidden from containers, as Docker does.
    public static let maskedPaths = [
        "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
        "/sys/firmware", "/sys/devices/virtual/powercap",
    ]

    public static let readonlyPaths = [
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    ]

    /// The files berth writes per container and binds over the image's copies.
    public static let managedFiles = ["/etc/resolv.conf", "/etc/hostname", "/etc/hosts"]

    /// Where `--init`'s binary appears, as in Docker.
    public static let initDestination = "/sbin/docker-init"

    /// The spec for one container. Pure: reads nothing from the machine.
    public static func spec(for launch: ContainerLaunch) -> OCISpec {
        var namespaces = [
            OCISpec.Namespace(type: "pid"),
            OCISpec.Namespace(type: "ipc"),
            OCISpec.Namespace(type: "mount"),
        ]
        if !launch.shareHostUTS { namespaces.append(OCISpec.Namespace(type: "uts")) }
        var sysctl: [String: String]?
        if case .path(let path) = launch.network {
            namespaces.append(OCISpec.Namespace(type: "network", path: path))
            // Docker's defaults for a private network namespace; never applied to the host's.
            sysctl = [
                "net.ipv4.ip_unprivileged_port_start": "0",
                "net.ipv4.ping_group_range": "0 2147483647",
            ]
        }

        // runc before 1.2 ignores the spec's `domainname`; the UTS-namespaced sysctl works with all.
        if !launch.shareHostUTS, let domainname = launch.domainname, !domainname.isEmpty {
            sysctl = (sysctl ?? [:]).merging(["kernel.domainname": domainname]) { _, new in new }
        }

        var mounts = [
            OCISpec.Mount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
            OCISpec.Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            OCISpec.Mount(destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            OCISpec.Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
            OCISpec.Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro", "nosuid", "noexec", "nodev"]),
            OCISpec.Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
            OCISpec.Mount(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]),
        ]
        let trimmedFilesDir = launch.filesDir.hasSuffix("/") ? String(launch.filesDir.dropLast()) : launch.filesDir
        for destination in managedFiles {
            let name = destination.split(separator: "/").last.map(String.init) ?? destination
            mounts.append(OCISpec.Mount(destination: destination, type: "bind", source: "\(trimmedFilesDir)/\(name)",
                                        options: ["rbind", "rprivate", launch.readonlyFiles ? "ro" : "rw"]))
        }

        if let initBinary = launch.initBinary {
            mounts.append(OCISpec.Mount(destination: initDestination, type: "bind", source: initBinary,
                                        options: ["bind", "rprivate", "ro"]))
        }
        mounts += launch.mounts.map(\.ociMount)

        var prefix = launch.cgroupPrefix
        while prefix.hasSuffix("/") { prefix.removeLast() }
        let cgroupsPath = prefix.isEmpty ? launch.id : "\(prefix)/\(launch.id)"

        var process = OCISpec.Process(
            user: OCISpec.User(uid: launch.uid, gid: launch.gid,
                               additionalGids: launch.additionalGids.isEmpty ? nil : launch.additionalGids),
            args: launch.initBinary == nil ? launch.args : [initDestination, "--"] + launch.args,
            env: environment(for: launch),
            cwd: launch.workingDir.isEmpty ? "/" : launch.workingDir,
            capabilities: OCISpec.Capabilities(bounding: defaultCapabilities, effective: defaultCapabilities,
                                               permitted: defaultCapabilities),
            rlimits: launch.openFilesLimit.map { [OCISpec.Rlimit(type: "RLIMIT_NOFILE", hard: $0, soft: $0)] },
            noNewPrivileges: false)
        process.terminal = launch.terminal

        return OCISpec(
            process: process,
            root: OCISpec.Root(path: launch.rootfs, readonly: launch.readonlyRootfs),
            // runc refuses to set a hostname without its own UTS namespace.
            hostname: launch.shareHostUTS ? nil : launch.hostname,
            domainname: launch.shareHostUTS ? nil : launch.domainname.flatMap { $0.isEmpty ? nil : $0 },
            mounts: mounts,
            linux: OCISpec.Linux(
                namespaces: namespaces,
                // Deny all, then runc adds its default device allow-list (null, zero, tty, …).
                resources: OCISpec.Resources(devices: [OCISpec.DeviceRule(allow: false, access: "rwm")]),
                cgroupsPath: cgroupsPath,
                sysctl: sysctl,
                maskedPaths: maskedPaths,
                readonlyPaths: readonlyPaths))
    }

    /// PATH default, then HOSTNAME, then the launch's entries; a later KEY replaces an earlier one
    /// in place, so the image can override PATH and the user can override the image.
    static func environment(for launch: ContainerLaunch) -> [String] {
        var result: [String] = []
        var position: [Substring: Int] = [:]
        for entry in [defaultPath, "HOSTNAME=\(launch.hostname)"] + launch.env {
            let key = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? Substring(entry)
            if let index = position[key] {
                result[index] = entry
            } else {
                position[key] = result.count
                result.append(entry)
            }
        }
        return result
    }

    /// Writes `<bundleDir>/config.json` for the launch and returns the spec written.
    @discardableResult
    public static func create(at bundleDir: String, launch: ContainerLaunch) throws -> OCISpec {
        let spec = spec(for: launch)
        try spec.write(to: bundleDir)
        return spec
    }
}

extension OCISpec {
    /// Writes config.json into the bundle directory (created if missing), atomically so
    /// runc never reads a half-written file.
    public func write(to bundleDir: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: bundleDir, withIntermediateDirectories: true)
            // The spec holds the container's environment (passwords, tokens): root's only.
            try AtomicFile.write(try jsonData(), to: "\(bundleDir)/config.json", mode: 0o600)
        } catch {
            throw BerthError(.internal, "cannot write OCI bundle in \(bundleDir)", cause: error)
        }
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

import BerthCore
import Foundation
import Glibc

/// A bind or tmpfs mount a container asked for (`-v`, `--mount`, `--tmpfs`), checked
/// and in the form the OCI spec and inspect need.
public struct ContainerMount: Sendable, Equatable {
    public enum Kind: String, Sendable { case bind, tmpfs }

    public var kind: Kind
    /// Host path of a bind; empty for tmpfs.
    public var source: String
    public var destination: String
    public var readOnly: Bool
    /// Bind propagation (`rprivate` unless asked); empty for tmpfs.
    public var propagation: String
    /// tmpfs options beyond Docker's defaults (size=…, mode=…, exec, …).
    public var tmpfsOptions: [String]
    /// The mode text inspect reports (`-v`'s third field, "" for `--mount`).
    public var mode: String
    /// `-v` makes a missing host directory; `--mount` refuses it.
    public var createsMissingSource: Bool

    public init(kind: Kind, source: String, destination: String, readOnly: Bool, propagation: String = "",
                tmpfsOptions: [String] = [], mode: String = "", createsMissingSource: Bool = false) {
        self.kind = kind
        self.source = source
        self.destination = destination
        self.readOnly = readOnly
        self.propagation = propagation
        self.tmpfsOptions = tmpfsOptions
        self.mode = mode
        self.createsMissingSource = createsMissingSource
    }

    /// Docker's propagation modes; berth honours only the private ones.
    public static let propagations: Set<String> = ["private", "rprivate", "shared", "rshared", "slave", "rslave"]

    /// Containers start from berthd's launch mount namespace, which is private (see
    /// LaunchNamespace): no mount event passes between it and the host, so shared and
    /// slave binds would not do what they promise.
    public static func checkPropagation(_ propagation: String, spec: String) throws(BerthError) {
        guard propagation == "private" || propagation == "rprivate" else {
            throw .invalid("berth does not support bind propagation \(propagation) (\(spec)): containers' mounts are private to them")
        }
    }

    /// `-v SRC:DST[:OPTIONS]`. berth has no volumes: a source that is not an absolute
    /// path (a volume name) and a lone path (an anonymous volume) are refused.
    /// Whether the host runs SELinux (its file system is mounted).
    public static let selinuxEnabled = access("/sys/fs/selinux/enforce", F_OK) == 0

    /// `z`/`Z` ask for an SELinux relabel: without SELinux there is nothing to relabel and
    /// Docker goes on, as berth does; with it, berth (which cannot relabel) refuses.
    public static func bind(_ spec: String, selinux: Bool = selinuxEnabled) throws(BerthError) -> ContainerMount {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts.count <= 3 else {
            if parts.count == 1 {
                throw .invalid("berth has no volumes: anonymous volume \(spec) (-v \(spec)); bind a host directory with -v /host/path:\(spec)")
            }
            throw .invalid("invalid volume specification: '\(spec)'")
        }
        let source = parts[0], destination = parts[1]
        guard source.hasPrefix("/") else {
            if source.isEmpty || source.hasPrefix(".") || source.contains("/") {
                throw .invalid("invalid volume specification: '\(spec)': the host path must be absolute")
            }
            throw .invalid("berth has no volumes: named volume \"\(source)\" (-v \(spec)); bind a host directory instead")
        }
        try checkDestination(destination, spec: spec)
        var readOnly = false
        var propagation = "rprivate"
        var seenAccess = false, seenPropagation = false
        let mode = parts.count == 3 ? parts[2] : ""
        for option in mode.split(separator: ",", omittingEmptySubsequences: false).map(String.init) where parts.count == 3 {
            switch option {
            case "ro", "rw":
                guard !seenAccess else { throw .invalid("invalid mode: \(mode)") }
                seenAccess = true
                readOnly = option == "ro"
            case _ where propagations.contains(option):
                guard !seenPropagation else { throw .invalid("invalid mode: \(mode)") }
                try checkPropagation(option, spec: "-v \(spec)")
                seenPropagation = true
                propagation = option
            // Docker ignores these on Linux (they tune macOS file sharing).
            case "consistent", "cached", "delegated":
                continue
            case "z", "Z":
                if !selinux { continue }
                throw .invalid("berth does not support SELinux relabelling (:\(option) in -v \(spec))")
            case "nocopy":
                throw .invalid("berth has no volumes: nocopy (-v \(spec)) applies to volumes only")
            default:
                throw .invalid("invalid mode: \(mode)")
            }
        }
        return ContainerMount(kind: .bind, source: normalized(source), destination: normalized(destination),
                              readOnly: readOnly, propagation: propagation, mode: mode, createsMissingSource: true)
    }

    /// `--tmpfs DST[:OPTIONS]` (HostConfig.Tmpfs: DST → OPTIONS).
    public static func tmpfs(destination: String, options: String) throws(BerthError) -> ContainerMount {
        try checkDestination(destination, spec: destination)
        var kept: [String] = []
        var readOnly = false
        for option in options.split(separator: ",").map(String.init) {
            let key = option.split(separator: "=", maxSplits: 1).first.map(String.init) ?? option
            switch key {
            case "ro": readOnly = true
            case "rw": readOnly = false
            case "exec", "noexec", "suid", "nosuid", "dev", "nodev", "atime", "noatime", "relatime", "strictatime",
                 "nodiratime", "diratime", "sync", "async":
                guard !option.contains("=") else { throw .invalid("invalid tmpfs option \"\(option)\" for \(destination)") }
                kept.append(option)
            case "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks":
                guard option.contains("="), option.count > key.count + 1 else {
                    throw .invalid("invalid tmpfs option \"\(option)\" for \(destination)")
                }
                kept.append(option)
            default:
                throw .invalid("berth does not support the tmpfs option \"\(option)\" (--tmpfs \(destination))")
            }
        }
        return ContainerMount(kind: .tmpfs, source: "", destination: normalized(destination), readOnly: readOnly,
                              tmpfsOptions: kept)
    }

    public static func checkDestination(_ destination: String, spec: String) throws(BerthError) {
        guard destination.hasPrefix("/") else {
            throw .invalid("invalid mount config: the mount destination \(destination.isEmpty ? "\"\"" : destination) is not an absolute path (\(spec))")
        }
        guard normalized(destination) != "/" else { throw .invalid("invalid mount config: destination can't be '/' (\(spec))") }
        guard !destination.split(separator: "/").contains("..") else {
            throw .invalid("invalid mount config: the mount destination \(destination) must not contain \"..\"")
        }
    }

    /// No trailing or repeated slashes, so "/d/" and "/d" are one destination.
    public static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }

    /// The OCI mount. tmpfs gets Docker's defaults (noexec, nosuid, nodev) before the
    /// user's options, so the user's exec/suid/dev win.
    public var ociMount: OCISpec.Mount {
        switch kind {
        case .bind:
            return OCISpec.Mount(destination: destination, type: "bind", source: source,
                                 options: ["rbind", propagation.isEmpty ? "rprivate" : propagation, readOnly ? "ro" : "rw"])
        case .tmpfs:
            return OCISpec.Mount(destination: destination, type: "tmpfs", source: "tmpfs",
                                 options: ["noexec", "nosuid", "nodev"] + tmpfsOptions + [readOnly ? "ro" : "rw"])
        }
    }
}

/// A bind source as the daemon found it on the host. The launch mount namespace keeps
/// only some of the host's mounts (see LaunchNamespace) and none made after berthd
/// started: a source it does not see as the same file is copied in (`BindStaging`).
public struct BindSource: Sendable {
    public var path: String
    var device: UInt64
    var inode: UInt64
    var isDirectory: Bool
}

extension ContainerMount {
    /// Makes `-v`'s missing host directories (as Docker does) and records what each bind
    /// source is; a missing `--mount` source is an error.
    public static func prepareSources(_ mounts: [ContainerMount]) throws(BerthError) -> [BindSource] {
        var result: [BindSource] = []
        for mount in mounts where mount.kind == .bind {
            var info = stat()
            if stat(mount.source, &info) != 0 {
                guard errno == ENOENT, mount.createsMissingSource else {
                    throw .invalid("invalid mount config for type \"bind\": bind source path does not exist: \(mount.source)")
                }
                do {
                    try FileManager.default.createDirectory(atPath: mount.source, withIntermediateDirectories: true)
                } catch {
                    throw BerthError(.internal, "cannot create the bind source \(mount.source)", cause: error)
                }
                guard stat(mount.source, &info) == 0 else {
                    throw BerthError(.internal, "cannot create the bind source \(mount.source): \(String(cString: strerror(errno)))")
                }
            }
            result.append(BindSource(path: mount.source, device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
                                     isDirectory: (info.st_mode & S_IFMT) == S_IFDIR))
        }
        return result
    }

    /// Run in the launch namespace: the sources it does not see as the host does.
    public static func hiddenSources(_ sources: [BindSource]) -> [BindSource] {
        sources.filter { source in
            var info = stat()
            return stat(source.path, &info) != 0 || UInt64(info.st_dev) != source.device || UInt64(info.st_ino) != source.inode
        }
    }
}

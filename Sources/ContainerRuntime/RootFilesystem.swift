import BerthCore
import Foundation

/// A container's writable root: an overlay of the image rootfs (read-only lower dir) and a
/// per-container upper dir. Layout inside the container directory:
///
///     upper/    the container's changes        work/   overlayfs scratch
///     rootfs/   the merged view given to runc  copy/   only when overlay is unusable
///
/// Only these entries are created and removed; the rest of the container directory
/// (hosts, resolv.conf, logs, bundle) belongs to the daemon.
public enum RootFilesystem {
    public enum Kind: String, Sendable {
        case overlay
        /// Fallback where overlay cannot be mounted (e.g. the container dir is itself on
        /// overlayfs): a private copy of the image, bind-mounted.
        case copy
    }

    /// Mounts the container's root and returns its path (containerDir/rootfs). Idempotent:
    /// if the root is already mounted (say, a restarted daemon preparing again) it is reused.
    @discardableResult
    public static func prepare(containerDir: String, imageRootfs: String, allowCopyFallback: Bool = true) throws -> String {
        try prepareReportingKind(containerDir: containerDir, imageRootfs: imageRootfs, allowCopyFallback: allowCopyFallback).path
    }

    public static func prepareReportingKind(containerDir: String, imageRootfs: String, allowCopyFallback: Bool = true) throws -> (path: String, kind: Kind) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: imageRootfs, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BerthError.notFound("image rootfs \(imageRootfs) does not exist")
        }
        let rootfs = "\(containerDir)/rootfs"
        let upper = "\(containerDir)/upper"
        let work = "\(containerDir)/work"
        do {
            for directory in [rootfs, upper, work] {
                try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        } catch {
            throw BerthError(.internal, "cannot create root filesystem directories in \(containerDir)", cause: error)
        }
        if MountTable.isMountPoint(rootfs) {
            return (rootfs, fm.fileExists(atPath: "\(containerDir)/copy") ? .copy : .overlay)
        }

        let lower = MountTable.canonical(imageRootfs)
        let upperPath = MountTable.canonical(upper)
        let workPath = MountTable.canonical(work)
        // The option string is comma- and colon-separated; such characters in paths would be misparsed.
        for path in [lower, upperPath, workPath] where path.contains(",") || path.contains(":") {
            throw BerthError.invalid("path \(path) contains ',' or ':' which overlayfs options cannot carry")
        }
        let options = "lowerdir=\(lower),upperdir=\(upperPath),workdir=\(workPath)"
        if mount("overlay", rootfs, "overlay", 0, options) == 0 {
            return (rootfs, .overlay)
        }
        let code = errno
        // These mean "overlay cannot work here" rather than "you asked for something wrong".
        let unsupported: Set<Int32> = [EINVAL, ENODEV, EOPNOTSUPP, ENOTSUP, EPERM]
        guard allowCopyFallback, unsupported.contains(code) else {
            throw BerthError(.kernel, "mounting overlay at \(rootfs) failed: \(errnoText(code)) (\(options))")
        }
        try mountCopy(containerDir: containerDir, imageRootfs: imageRootfs, rootfs: rootfs, overlayError: code)
        return (rootfs, .copy)
    }

    private static func mountCopy(containerDir: String, imageRootfs: String, rootfs: String, overlayError: Int32) throws {
        let copy = "\(containerDir)/copy"
        let staging = "\(containerDir)/copy.partial"
        let fm = FileManager.default
        if !fm.fileExists(atPath: copy) {
            // Usually absent; one that cannot be removed makes cp or rename fail, which is reported.
            try? fm.removeItem(atPath: staging)
            // cp -a keeps owners, modes, links and special files, which FileManager.copyItem does not.
            let result = try Command.run("/bin/cp", ["-a", imageRootfs, staging])
            guard result.status == 0, rename(staging, copy) == 0 else {
                // The error below is the news; a partial copy left is removed by the next try.
                try? fm.removeItem(atPath: staging)
                throw BerthError(.internal, "overlay unavailable (\(errnoText(overlayError))) and copying \(imageRootfs) failed: \(result.diagnostic)")
            }
        }
        guard mount(copy, rootfs, nil, UInt(MS_BIND) | UInt(MS_REC), nil) == 0 else {
            throw BerthError(.kernel, "overlay unavailable (\(errnoText(overlayError))); bind mount of \(copy) failed: \(errnoText(errno))")
        }
    }

    /// Unmounts (lazily, so a process still holding a file does not block it) and removes the
    /// container's root. Safe to call repeatedly and on a container that was never prepared.
    public static func release(containerDir: String) throws {
        let rootfs = "\(containerDir)/rootfs"
        try unmount(containerDir: containerDir)
        // rmdir, never a recursive delete: if anything were still mounted there, a recursive
        // delete would reach into the image's files.
        if rmdir(rootfs) != 0, errno != ENOENT {
            throw BerthError(.internal, "cannot remove \(rootfs): \(errnoText(errno))")
        }
        let fm = FileManager.default
        for entry in ["upper", "work", "copy", "copy.partial"] {
            let path = "\(containerDir)/\(entry)"
            guard fm.fileExists(atPath: path) else { continue }
            do {
                try fm.removeItem(atPath: path)
            } catch {
                throw BerthError(.internal, "cannot remove \(path)", cause: error)
            }
        }
    }

    /// Takes the container's root out of the caller's mount table, lazily, keeping its
    /// directories. A started container keeps its own copy of the mount.
    public static func unmount(containerDir: String) throws {
        let rootfs = "\(containerDir)/rootfs"
        // Mounts can be stacked (e.g. prepared twice by racing callers); peel them all.
        var attempts = 0
        while MountTable.isMountPoint(rootfs) {
            attempts += 1
            guard attempts <= 8 else { throw BerthError(.kernel, "\(rootfs) is still mounted after 8 unmounts") }
            // EINVAL: raced with another release that already detached it.
            if umount2(rootfs, Int32(MNT_DETACH)) != 0, errno != EINVAL, errno != ENOENT {
                throw BerthError(.kernel, "unmounting \(rootfs) failed: \(errnoText(errno))")
            }
        }
    }

    /// True when containerDir/rootfs is currently a mount point.
    public static func isMounted(containerDir: String) -> Bool {
        MountTable.isMountPoint("\(containerDir)/rootfs")
    }
}

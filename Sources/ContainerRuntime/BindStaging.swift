import BerthCore
import CLinux
import Foundation
import Glibc

/// Brings bind sources the launch namespace cannot see into it: a copy of the host's
/// tree at the source (open_tree, on a thread in the host's mount namespace) is attached
/// under the container's directory in the launch namespace (move_mount), runc binds it
/// from there, and it is detached again once the container holds its own copy.
public enum BindStaging {
    /// Host side: one detached tree per source (descriptors the caller closes).
    public static func clone(_ sources: [BindSource]) throws(BerthError) -> [Int32] {
        var descriptors: [Int32] = []
        for source in sources {
            let fd = berth_clone_mount_tree(source.path)
            guard fd >= 0 else {
                descriptors.forEach { close($0) }
                throw BerthError(.internal, "cannot copy the mount at \(source.path) for the container: \(String(cString: strerror(-fd)))")
            }
            descriptors.append(fd)
        }
        return descriptors
    }

    /// Launch side: attaches each tree at `<directory>/<n>` and returns source path → staged path.
    /// On failure what was attached is detached again.
    public static func attach(_ descriptors: [Int32], sources: [BindSource], under directory: String) throws(BerthError) -> [String: String] {
        var staged: [String: String] = [:]
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (index, (fd, source)) in zip(descriptors, sources).enumerated() {
                let target = "\(directory)/\(index)"
                if source.isDirectory {
                    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                } else if !FileManager.default.createFile(atPath: target, contents: nil) {
                    throw BerthError(.internal, "cannot create \(target)")
                }
                let result = berth_attach_mount_tree(fd, target)
                guard result == 0 else {
                    throw BerthError(.internal, "cannot attach the copy of \(source.path) at \(target): \(String(cString: strerror(-result)))")
                }
                staged[source.path] = target
            }
        } catch {
            detach(Array(staged.values))
            throw BerthError.wrap(error, "bringing bind sources into the launch namespace")
        }
        return staged
    }

    /// Launch side: detaches the staged trees (the started container keeps its copies) and
    /// removes their mount points. Best effort: a leftover goes with the container's directory.
    public static func detach(_ paths: [String]) {
        for path in paths {
            _ = umount2(path, Int32(MNT_DETACH))
            _ = remove(path)
        }
    }
}

extension BindStaging {
    /// From a host-side thread: stages the `hidden` sources in `namespace` and returns the
    /// mounts with those sources replaced, and the staged paths to `detach` after runc.
    public static func stage(_ mounts: [ContainerMount], hidden: [BindSource], in namespace: LaunchNamespace,
                             under directory: String) throws -> (mounts: [ContainerMount], staged: [String]) {
        guard !hidden.isEmpty else { return (mounts, []) }
        let trees = try clone(hidden)
        defer { trees.forEach { close($0) } }
        let staged = try namespace.perform { try attach(trees, sources: hidden, under: directory) }
        var result = mounts
        for index in result.indices where result[index].kind == .bind {
            result[index].source = staged[result[index].source] ?? result[index].source
        }
        return (result, Array(staged.values))
    }
}

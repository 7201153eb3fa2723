import BerthCore
import Glibc

/// `--user name|uid[:group|gid]` resolved as Docker does, from the container's own
/// /etc/passwd and /etc/group (moby/sys/user's rules): a name must be found; a number
/// not found stands for itself with group 0; supplementary groups are the groups that list
/// the user as a member.
public struct ResolvedUser: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var additionalGids: [UInt32]
    /// From passwd; "/" when the user has no entry.
    public var home: String

    public var ociUser: OCISpec.User {
        OCISpec.User(uid: uid, gid: gid, additionalGids: additionalGids.isEmpty ? nil : additionalGids)
    }
}

public enum UserLookup {
    /// Checks the text's form only (create time: the files are read at start).
    public static func validate(_ spec: String) throws(BerthError) {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && !$0.contains(where: { $0.isWhitespace }) }) else {
            throw .invalid("invalid user \"\(spec)\": expected name|uid[:group|gid]")
        }
    }

    /// Resolves against the passwd and group texts (nil: the file is missing).
    public static func resolve(_ spec: String, passwd: String?, group: String?) throws(BerthError) -> ResolvedUser {
        try validate(spec)
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let users = (passwd ?? "").split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
            .filter { $0.count >= 7 }
        let groups = (group ?? "").split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
            .filter { $0.count >= 4 }
        let userText = parts[0]
        var result: ResolvedUser
        var userName: String?
        if let entry = users.first(where: { $0[0] == userText }) ?? UInt32(userText).flatMap({ uid in users.first { UInt32($0[2]) == uid } }),
           let uid = UInt32(entry[2]), let gid = UInt32(entry[3]) {
            userName = entry[0]
            result = ResolvedUser(uid: uid, gid: gid, additionalGids: [], home: entry[5].isEmpty ? "/" : entry[5])
        } else if let uid = UInt32(userText) {
            result = ResolvedUser(uid: uid, gid: 0, additionalGids: [], home: "/")
        } else {
            throw .invalid("unable to find user \(userText): no matching entries in passwd file")
        }
        if parts.count == 2 {
            let groupText = parts[1]
            if let entry = groups.first(where: { $0[0] == groupText }), let gid = UInt32(entry[2]) {
                result.gid = gid
            } else if let gid = UInt32(groupText) {
                result.gid = gid
            } else {
                throw .invalid("unable to find group \(groupText): no matching entries in group file")
            }
        }
        if let userName {
            for entry in groups where entry[3].split(separator: ",").contains(Substring(userName)) {
                if let gid = UInt32(entry[2]), gid != result.gid, !result.additionalGids.contains(gid) {
                    result.additionalGids.append(gid)
                }
            }
        }
        return result
    }

    /// Resolves against `<root>/etc/passwd` and `<root>/etc/group`. The files are the
    /// container's: a symlink among them is not followed (it would resolve on the host).
    public static func resolve(_ spec: String, root: String) throws(BerthError) -> ResolvedUser {
        try resolve(spec, passwd: try readContainerFile(root: root, "passwd"), group: try readContainerFile(root: root, "group"))
    }

    static func readContainerFile(root: String, _ name: String) throws(BerthError) -> String? {
        var info = stat()
        let etc = root + "/etc"
        guard lstat(etc, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return nil }
        let fd = open(etc + "/" + name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .invalid("cannot read the container's /etc/\(name): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw .invalid("the container's /etc/\(name) is not a regular file")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count < 16 << 20 {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

import BerthCore
import ContainerRuntime
import Foundation

/// The files berth writes for a container and bind-mounts at /etc/hosts, /etc/hostname
/// and /etc/resolv.conf.
enum ContainerFiles {
    /// The container's own names in /etc/hosts: with a domain, the FQDN first so that
    /// `hostname -f` finds it.
    static func hostNames(hostname: String, domainname: String?) -> String {
        guard let domainname, !domainname.isEmpty else { return hostname }
        return "\(hostname).\(domainname) \(hostname)"
    }

    /// Host-mode additions: lines after the host's own file (which may lack a final newline).
    static func entries(_ extra: [(String, String)]) -> String {
        extra.isEmpty ? "" : "\n" + extra.map { "\($0.0)\t\($0.1)\n" }.joined()
    }

    static func hosts(hostname: String, addresses: [String], extra: [(String, String)]) -> String {
        var text = """
            127.0.0.1\tlocalhost
            ::1\tlocalhost ip6-localhost ip6-loopback
            fe00::0\tip6-localnet
            ff00::0\tip6-mcastprefix
            ff02::1\tip6-allnodes
            ff02::2\tip6-allrouters

            """
        for (address, names) in extra { text += "\(address)\t\(names)\n" }
        for address in addresses { text += "\(address)\t\(hostname)\n" }
        return text
    }

    /// The host's resolv.conf with loopback nameservers dropped (they mean nothing inside
    /// the container's namespace), or the user's `--dns` settings in their place.
    /// Unlike Docker, no public resolver is ever added when none is left.
    static func resolvConf(hostResolvConf: String, dns: [String], search: [String], options: [String],
                           keepHostNameservers: Bool = true) -> String {
        var nameservers: [String] = []
        var searches: [String] = []
        var opts: [String] = []
        for line in hostResolvConf.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = fields.first else { continue }
            switch keyword {
            case "nameserver" where fields.count > 1:
                let server = String(fields[1])
                if !server.hasPrefix("127.") && server != "::1" { nameservers.append(server) }
            case "search", "domain":
                searches += fields.dropFirst().map(String.init)
            case "options":
                opts += fields.dropFirst().map(String.init)
            default:
                continue
            }
        }
        if !dns.isEmpty || !keepHostNameservers { nameservers = dns }
        if !search.isEmpty { searches = search }
        if !options.isEmpty { opts = options }
        var text = ""
        for server in nameservers { text += "nameserver \(server)\n" }
        if !searches.isEmpty { text += "search \(searches.joined(separator: " "))\n" }
        if !opts.isEmpty { text += "options \(opts.joined(separator: " "))\n" }
        return text
    }

    /// Rewrites a file a running container has bind-mounted: in place, because a rename
    /// would leave the container looking at the old inode.
    static func rewriteInPlace(_ text: String, at path: String) throws(BerthError) {
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw BerthError(.internal, "cannot open \(path) for writing")
        }
        do {
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data(text.utf8))
            // A failed close can mean a failed write-back: reported like the write.
            try handle.close()
        } catch {
            throw BerthError(.internal, "cannot rewrite \(path)", cause: error)
        }
    }

    /// Removes a directory and everything below it (never following a symlink); already
    /// gone is fine. A failure names the file that could not go and the system's reason
    /// (e.g. "Read-only file system"), which Foundation's own errors leave out.
    static func removeTree(_ path: String) throws(BerthError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw BerthError(.internal, "cannot remove \(path): \(String(cString: strerror(errno)))")
        }
        if info.st_mode & S_IFMT == S_IFDIR {
            let entries: [String]
            do { entries = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
                throw BerthError(.internal, "cannot list \(path)", cause: error)
            }
            for entry in entries { try removeTree(path + "/" + entry) }
            guard rmdir(path) == 0 || errno == ENOENT else {
                throw BerthError(.internal, "cannot remove \(path): \(String(cString: strerror(errno)))")
            }
        } else {
            guard unlink(path) == 0 || errno == ENOENT else {
                throw BerthError(.internal, "cannot remove \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    static func write(_ text: String, to path: String) throws(BerthError) {
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}

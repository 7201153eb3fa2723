import Foundation

/// Replaces a file in one step (a temporary file renamed over it), so a reader sees the
/// old or the new contents, never a part. Unlike Foundation's atomic write there is no
/// fsync: what berth writes this way (a bundle's config.json, a container's hosts,
/// hostname and resolv.conf) is made again at every start, and each fsync made a start
/// wait for the disk, several milliseconds on a busy one.
public enum AtomicFile {
    /// `<dir>/.<name>.tmp-<random>`: hidden, and recognisable by `isTemporary` so a start
    /// can sweep what a killed writer left.
    public static func temporaryPath(for path: String) -> String {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        return directory + "." + name + ".tmp-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    public static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(".") && name.contains(".tmp-")
    }

    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws(BerthError) {
        let temporary = temporaryPath(for: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw BerthError(.internal, "cannot create \(temporary): \(reason(errno))") }
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress?.advanced(by: offset), raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        close(fd)
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw BerthError(.internal, "cannot write \(path): \(reason(failure))")
        }
    }

    private static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }
}

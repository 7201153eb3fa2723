import BerthCore
import CLinux
import Foundation

/// Whether a path is a mount point. statx's STATX_ATTR_MOUNT_ROOT answers in constant time;
/// /proc/self/mountinfo is the fallback for kernels before 5.8 (stat device comparison
/// misses bind mounts of the same filesystem). Reading mountinfo costs time in proportion
/// to the mounts on the host, two per running container: milliseconds at a few hundred.
enum MountTable {
    /// Mount points in mount order, with the kernel's octal escapes (\040 etc.) decoded, as the
    /// process sees them, or with `ofThisThread` as the calling thread does (its mount
    /// namespace may be its own).
    static func mountPoints(ofThisThread: Bool = false) -> [String] {
        guard let text = ProcFile.read(ofThisThread ? "/proc/thread-self/mountinfo" : "/proc/self/mountinfo") else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            return fields.count > 4 ? unescape(fields[4]) : nil
        }
    }

    static func isMountPoint(_ path: String) -> Bool {
        switch berth_is_mount_root(path) {
        case 1: return true
        case 0: return false
        default: break
        }
        let target = canonical(path)
        return mountPoints().contains(target)
    }

    /// realpath(3) when the path exists, so /var/run and /run spellings compare equal.
    static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var index = 0
        while index < raw.count {
            if raw[index] == UInt8(ascii: "\\"), index + 3 < raw.count,
               let value = UInt8(String(decoding: raw[index + 1...index + 3], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

import Foundation

/// Reads a /proc file completely. /proc files report size 0 and are generated as they are read;
/// Foundation's file readers trust the size and stop after one page, silently truncating
/// /proc/self/mountinfo once a machine has a few dozen mounts.
enum ProcFile {
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var contents = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                contents.append(contentsOf: buffer[0..<count])
            } else if count == 0 {
                break
            } else if errno != EINTR {
                return nil
            }
        }
        return String(decoding: contents, as: UTF8.self)
    }
}

import BerthCore
import Foundation
import Glibc

/// The unix socket runc sends a terminal's pty master to (`--console-socket`). runc
/// connects and writes the descriptor during `run`/`exec` without waiting for an answer, so
/// the listening socket is made first and the descriptor received after runc returned (or
/// while `exec` runs).
public final class ConsoleSocket: Sendable {
    public let path: String
    private let fd: Int32

    /// A listening socket at a fresh path in `directory` (short: sun_path holds 107 bytes).
    public init(directory: String) throws(BerthError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw BerthError(.internal, "cannot create \(directory)", cause: error)
        }
        let path = directory + "/console-" + UUID().uuidString.prefix(8).lowercased() + ".sock"
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw BerthError(.internal, "console socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BerthError(.internal, "console socket: \(String(cString: strerror(errno)))") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            let error = BerthError(.internal, "console socket \(path): \(String(cString: strerror(errno)))")
            close(fd)
            unlink(path)
            throw error
        }
        self.path = path
        self.fd = fd
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The pty master runc sent, waiting at most `timeout` milliseconds for runc to connect.
    public func receiveMaster(timeoutMilliseconds: Int32 = 10_000) throws(BerthError) -> Int32 {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else {
            throw BerthError(.internal, "runc did not hand over the terminal")
        }
        let connection = accept(fd, nil, nil)
        guard connection >= 0 else { throw BerthError(.internal, "console socket accept: \(String(cString: strerror(errno)))") }
        defer { close(connection) }
        _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
        guard let master = Self.receiveDescriptor(connection) else {
            throw BerthError(.internal, "runc sent no terminal descriptor")
        }
        return master
    }

    /// One SCM_RIGHTS descriptor from `connection`. The control message is laid out by hand
    /// (Swift has no CMSG_* macros): cmsghdr is {size_t len; int level; int type} then data.
    private static func receiveDescriptor(_ connection: Int32) -> Int32? {
        let headerSize = MemoryLayout<Int>.size + 2 * MemoryLayout<Int32>.size
        var name = [UInt8](repeating: 0, count: 4096)  // runc sends the terminal's name
        var control = [UInt8](repeating: 0, count: headerSize + 8)
        let received = name.withUnsafeMutableBytes { nameBuffer -> Int in
            control.withUnsafeMutableBytes { controlBuffer -> Int in
                var vector = iovec(iov_base: nameBuffer.baseAddress, iov_len: nameBuffer.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer -> Int in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBuffer.baseAddress
                    message.msg_controllen = controlBuffer.count
                    let count = recvmsg(connection, &message, Int32(MSG_CMSG_CLOEXEC))
                    return count < 0 ? -1 : message.msg_controllen
                }
            }
        }
        guard received >= headerSize + MemoryLayout<Int32>.size else { return nil }
        return control.withUnsafeBytes { raw -> Int32? in
            let level = raw.loadUnaligned(fromByteOffset: MemoryLayout<Int>.size, as: Int32.self)
            let type = raw.loadUnaligned(fromByteOffset: MemoryLayout<Int>.size + 4, as: Int32.self)
            guard level == SOL_SOCKET, type == Int32(SCM_RIGHTS) else { return nil }
            return raw.loadUnaligned(fromByteOffset: headerSize, as: Int32.self)
        }
    }
}

/// Sets a terminal's window size (TIOCSWINSZ); false when the descriptor is no terminal.
public func setWindowSize(_ fd: Int32, rows: UInt16, columns: UInt16) -> Bool {
    var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
    return ioctl(fd, UInt(TIOCSWINSZ), &size) == 0
}

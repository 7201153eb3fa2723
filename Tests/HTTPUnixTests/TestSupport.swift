import Foundation
import HTTPUnix

#if canImport(Glibc)
import Glibc
#endif

/// A socket path short enough for sun_path (108 bytes) and unique per test.
func temporarySocketPath() -> String {
    "/tmp/berth-http-\(UUID().uuidString.prefix(12)).sock"
}

/// Runs `body` against a server started on a fresh socket, shutting it down afterwards.
@discardableResult
func withServer<T>(
    _ router: Router,
    configuration: HTTPServer.Configuration = HTTPServer.Configuration(),
    _ body: (UnixHTTPClient, String) async throws -> T
) async throws -> T {
    let path = temporarySocketPath()
    let server = HTTPServer(socketPath: path, router: router, configuration: configuration)
    try await server.start()
    do {
        let result = try await body(UnixHTTPClient(socketPath: path), path)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

struct RawSocketError: Error, CustomStringConvertible {
    var description: String
}

/// Speaks bytes to the server with a plain blocking socket, for what UnixHTTPClient can't do on
/// purpose (pipelining, garbage, half-close). Runs on its own thread so it never blocks the
/// concurrency pool the server's handlers need.
func rawExchange(
    _ path: String,
    send: String,
    halfClose: Bool = false,
    until done: @escaping @Sendable (String) -> Bool = { _ in false }
) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try blockingExchange(path, send: Array(send.utf8), halfClose: halfClose, until: done) })
        }
        thread.start()
    }
}

/// Sends, then reads until EOF, until `done` says so, or a 15 s timeout (generous: CI runs
/// every suite at once on two cores).
private func blockingExchange(
    _ path: String,
    send: [UInt8],
    halfClose: Bool,
    until done: (String) -> Bool
) throws -> String {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RawSocketError(description: "socket: \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 15, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard connected == 0 else { throw RawSocketError(description: "connect: \(errno)") }

    var sent = 0
    while sent < send.count {
        let n = send[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw RawSocketError(description: "write: \(errno)") }
        sent += n
    }
    if halfClose {
        shutdown(fd, Int32(SHUT_WR))
    }

    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { throw RawSocketError(description: "read: \(errno) after \(String(decoding: received, as: UTF8.self))") }
        if n == 0 { break }
        received += chunk[..<n]
        if done(String(decoding: received, as: UTF8.self)) { break }
    }
    return String(decoding: received, as: UTF8.self)
}

/// Counts non-overlapping occurrences.
func occurrences(of needle: String, in haystack: String) -> Int {
    haystack.components(separatedBy: needle).count - 1
}

struct Echo: Codable, Equatable, Sendable {
    var name: String
    var count: Int
    var tags: [String]
}

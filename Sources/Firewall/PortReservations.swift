import BerthCore
import Glibc

/// Host ports held by bound sockets, as Docker does without its proxy: a bound socket
/// keeps any other program (or another container) from taking the port, and binding
/// tells whether the address is the host's and the port free. In nat mode the sockets
/// never listen: published traffic is rewritten by DNAT before it could reach them. In
/// host-firewall mode berthd's relay serves them.
struct PortReservations: ~Copyable {
    private var sockets: [HostPortKey: Int32] = [:]

    deinit {
        for descriptor in sockets.values { close(descriptor) }
    }

    func isHeld(_ key: HostPortKey) -> Bool { sockets[key] != nil }

    /// A second descriptor of the socket holding `key` (host-firewall mode's relay serves
    /// it); the port stays held until both are closed.
    func duplicate(_ key: HostPortKey) -> Int32? {
        guard let descriptor = sockets[key] else { return nil }
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        return copy >= 0 ? copy : nil
    }

    /// Binds the host side of a mapping; throws the reason a user can act on.
    mutating func reserve(_ key: HostPortKey) throws(BerthError) {
        guard sockets[key] == nil else { return }
        let family = key.ipv6 ? AF_INET6 : AF_INET
        let type = key.transport == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        let descriptor = socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Self.failure(key, errno) }
        if key.ipv6 {
            // [::]:port must not also take 0.0.0.0:port: those are separate mappings.
            var one: Int32 = 1
            setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound = Self.bind(descriptor, key)
        guard bound == 0 else {
            let code = errno
            close(descriptor)
            throw Self.failure(key, code)
        }
        sockets[key] = descriptor
    }

    mutating func release(_ key: HostPortKey) {
        if let descriptor = sockets.removeValue(forKey: key) { close(descriptor) }
    }

    private static func bind(_ descriptor: Int32, _ key: HostPortKey) -> Int32 {
        if key.ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = key.port.bigEndian
            if case .v6(let ip) = key.hostIP {
                withUnsafeMutableBytes(of: &address.sin6_addr) { raw in
                    for (index, byte) in ip.bytes.enumerated() { raw[index] = byte }
                }
            }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = key.port.bigEndian
        if case .v4(let ip) = key.hostIP {
            withUnsafeMutableBytes(of: &address.sin_addr) { raw in
                for (index, byte) in ip.bytes.enumerated() { raw[index] = byte }
            }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    private static func failure(_ key: HostPortKey, _ code: Int32) -> BerthError {
        let reason = String(cString: strerror(code)).lowercased()
        switch code {
        case EADDRINUSE:
            return BerthError(.conflict, "failed to bind host port \(key): address already in use")
        case EADDRNOTAVAIL:
            return BerthError(.invalidArgument, "failed to bind host port \(key): \(key.hostIP.map { "\($0)" } ?? "the address") is not an address of this host")
        default:
            return BerthError(.internal, "failed to bind host port \(key): \(reason)")
        }
    }
}

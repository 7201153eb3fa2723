import Glibc

/// Carries netlink datagrams. `RouteNetlink` only needs these two calls, so tests can
/// substitute a transport that records requests and replays recorded kernel replies.
public protocol NetlinkTransport: AnyObject {
    /// Sends one datagram (one or more netlink messages back to back).
    func send(_ bytes: [UInt8]) throws
    /// Receives exactly one datagram.
    func receive() throws -> [UInt8]
}

/// An AF_NETLINK socket: NETLINK_ROUTE by default, or another netlink family (such as
/// NETLINK_NETFILTER for listening to nftables events).
///
/// Requires CAP_NET_ADMIN for changes. The socket talks to the network namespace of the
/// thread that opened it: a netlink socket is bound to a namespace when it is created
/// and keeps it, so one opened on a thread that entered a container's namespace (setns)
/// keeps configuring that namespace when used from any other thread afterwards.
///
/// Not safe for concurrent use (one receive buffer); hand it from thread to thread, or
/// keep it inside one actor.
public final class NetlinkSocket: NetlinkTransport {
    /// The socket descriptor, closed when the object goes away.
    public let descriptor: Int32
    /// The port id the kernel bound this socket to.
    public private(set) var portID: UInt32 = 0

    // Reused for every datagram. Pages are only touched as far as replies reach, so
    // the 1 MiB is address space rather than resident memory.
    private let buffer: UnsafeMutableRawBufferPointer

    /// Opens, configures and binds the socket.
    /// - Parameters:
    ///   - receiveBufferSize: SO_RCVBUF; large so big dumps and batches of acks do
    ///     not overflow (ENOBUFS). Raised past rmem_max with SO_RCVBUFFORCE when allowed.
    ///   - receiveTimeout: how long `receive` waits for the kernel before failing with
    ///     EAGAIN, so a lost reply cannot hang the caller forever; nil waits forever.
    ///   - family: the netlink protocol (NETLINK_ROUTE unless given).
    ///   - groups: multicast groups to join, to receive the kernel's notifications.
    public init(family: Int32 = NetlinkFamily.route, groups: [UInt32] = [],
                receiveBufferSize: Int = 1 << 20, receiveTimeout: Duration? = .seconds(30)) throws {
        let fd = Glibc.socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), family)
        guard fd >= 0 else { throw NetlinkError(operation: "open netlink socket", errno: Glibc.errno) }
        descriptor = fd
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        // self is fully initialized here, so if configuring fails deinit closes the
        // descriptor and frees the buffer.
        try configure(receiveBufferSize: receiveBufferSize, receiveTimeout: receiveTimeout)
        for group in groups {
            try setOption(NL.solNetlink, NL.addMembership, Int32(bitPattern: group), "join netlink group \(group)")
        }
    }

    deinit {
        Glibc.close(descriptor)
        buffer.deallocate()
    }

    private func configure(receiveBufferSize: Int, receiveTimeout: Duration?) throws {
        // Error replies carry only the request header (CAP_ACK) plus the kernel's
        // explanation (EXT_ACK).
        try setOption(NL.solNetlink, NL.capAck, Int32(1), "enable NETLINK_CAP_ACK")
        try setOption(NL.solNetlink, NL.extAck, Int32(1), "enable NETLINK_EXT_ACK")
        let size = Int32(clamping: receiveBufferSize)
        // Needs CAP_NET_ADMIN: without it, the capped SO_RCVBUF, whose failure is reported.
        if (try? setOption(SOL_SOCKET, SO_RCVBUFFORCE, size, "")) == nil {
            try setOption(SOL_SOCKET, SO_RCVBUF, size, "set SO_RCVBUF")
        }
        if let receiveTimeout {
            let (seconds, attoseconds) = receiveTimeout.components
            var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            guard setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                throw NetlinkError(operation: "set SO_RCVTIMEO", errno: Glibc.errno)
            }
        }

        // struct sockaddr_nl { sa_family_t nl_family; u16 pad; u32 nl_pid; u32 nl_groups }
        // with pid 0: the kernel picks a unique port id.
        var address = [UInt8]()
        address.appendHostOrder(UInt16(AF_NETLINK))
        address.appendHostOrder(UInt16(0))
        address.appendHostOrder(UInt32(0))
        address.appendHostOrder(UInt32(0))
        let bound = address.withUnsafeBytes { raw in
            Glibc.bind(descriptor, raw.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        guard bound == 0 else { throw NetlinkError(operation: "bind netlink socket", errno: Glibc.errno) }

        var length = socklen_t(address.count)
        let named = address.withUnsafeMutableBytes { raw in
            getsockname(descriptor, raw.baseAddress?.assumingMemoryBound(to: sockaddr.self), &length)
        }
        guard named == 0 else { throw NetlinkError(operation: "read netlink port id", errno: Glibc.errno) }
        portID = address[...].loadHostOrder(UInt32.self, at: 4)
    }

    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32, _ operation: String) throws {
        var value = value
        guard setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw NetlinkError(operation: operation, errno: Glibc.errno)
        }
    }

    public func send(_ bytes: [UInt8]) throws {
        // An unconnected netlink socket sends to its default peer, port 0: the kernel.
        while true {
            let sent = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
            if sent == bytes.count { return }
            if sent < 0 && Glibc.errno == EINTR { continue }
            throw NetlinkError(
                operation: "send netlink request", errno: sent < 0 ? Glibc.errno : EMSGSIZE,
                detail: sent < 0 ? nil : "sent \(sent) of \(bytes.count) bytes")
        }
    }

    public func receive() throws -> [UInt8] {
        while true {
            // MSG_TRUNC makes recv report the datagram's real size, so an oversized one
            // is detected instead of being silently cut.
            let received = Glibc.recv(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_TRUNC))
            if received < 0 {
                if Glibc.errno == EINTR { continue }
                throw NetlinkError(operation: "receive netlink reply", errno: Glibc.errno)
            }
            guard received <= buffer.count else {
                throw NetlinkError(
                    operation: "receive netlink reply", errno: EMSGSIZE,
                    detail: "datagram of \(received) bytes exceeds the \(buffer.count)-byte buffer")
            }
            return Array(UnsafeRawBufferPointer(rebasing: buffer[0..<received]))
        }
    }
}

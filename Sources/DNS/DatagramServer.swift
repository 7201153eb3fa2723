import BerthCore
import CLinux
import Glibc
import NIOCore
import Synchronization

/// Serves DNS over UDP on one socket from a thread of its own.
///
/// Why not a NIO datagram channel: for a query answered locally, the work is a few hundred
/// nanoseconds; NIO's per-datagram envelope, pipeline and pending-write bookkeeping cost
/// more than that, and the machines berth runs on are small, with the querying containers
/// on the same cores. Here one blocking recvmmsg takes every queued query, each is answered
/// into a reused slot, and one sendmmsg sends the replies, where consecutive replies of one
/// length to one client go as a single UDP GSO message: the kernel walks the route,
/// netfilter, bridge and veth once for all of them and splits them only at the client's
/// socket. Names not known locally are handed to `loop`, which forwards them
/// asynchronously; the thread never waits for an upstream.
final class DatagramServer: Sendable {
    /// Queries taken per recvmmsg, and the receive slot of each: queries are small, and one
    /// longer than this arrives cut short and gets FORMERR. 32 slots hold what arrives
    /// between two batches even at full speed, in ~100 KB per socket with the reply slots.
    static let batchSize = 32
    static let querySlice = 2048
    /// Room for the largest UDP reply we send (`WireLimits.maxUDPPayload`).
    static let replySlice = 1280
    /// Under load (a batch of at least `busyBatch` queries), the thread pauses this long
    /// before reading again, so the next batch is larger. While it is not waiting on the
    /// socket, a client's send does not have to wake it, and one GSO reply carries more
    /// answers: in the dns bench, server plus client CPU per query fell by ~15%. Queries
    /// arriving one by one (batches of 1-3) are never delayed.
    static let busyBatch: Int32 = 4
    static let busyPause = timespec(tv_sec: 0, tv_nsec: 50_000)

    let port: Int
    /// The socket, -1 once closed. The serving thread reads without the lock (it is the only
    /// one to close it, after the thread ends); relayed answers send under it, so they can
    /// never reach a descriptor number the kernel has since given to something else.
    private let socket: Mutex<Int32>
    private let stopping = Atomic<Bool>(false)
    private let exited: EventLoopPromise<Void>

    /// Binds `address` (IP_FREEBIND: the address need not be configured yet) and starts serving.
    init(address: SocketAddress, core: ServerCore, loop: any EventLoop) throws {
        let fd = try Self.openSocket(address)
        socket = Mutex(fd)
        exited = loop.makePromise(of: Void.self)
        do {
            port = try Self.boundPort(fd)
            try startThread { [self] in
                serve(fd: fd, core: core, loop: loop)
                exited.succeed(())
            }
        } catch {
            Glibc.close(fd)
            exited.succeed(())
            throw error
        }
    }

    /// Stops the thread and closes the socket. Forwards still in flight drop their answers.
    func close() async {
        if !stopping.exchange(true, ordering: .relaxed) {
            // Wakes the thread blocked in recvmmsg (for UDP, shutdown returns ENOTCONN but
            // still wakes readers); SO_RCVTIMEO is the fallback.
            socket.withLock { fd in if fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) } }
        }
        try? await exited.futureResult.get()  // only waits for the thread: it reports no error
        socket.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }

    private func serve(fd: Int32, core: ServerCore, loop: any EventLoop) {
        guard let batch = berth_dgram_batch_create(UInt32(Self.batchSize), UInt32(Self.querySlice), UInt32(Self.replySlice))
        else { return }
        defer { berth_dgram_batch_destroy(batch) }
        var resolver = Resolver(ttl: core.ttl)
        let allocator = ByteBufferAllocator()
        var gso: Int32 = 1
        while !stopping.load(ordering: .relaxed) {
            let received = berth_dgram_recv(fd, batch)
            if received <= 0 {
                if received == -EBADF || received == -ENOTSOCK { return }
                if received < 0, received != -EINTR, received != -EAGAIN {
                    // Unexpected (e.g. ENOMEM): do not spin on it.
                    var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
                    nanosleep(&pause, nil)
                }
                continue  // EINTR, the SO_RCVTIMEO tick, or a wake-up to stop
            }
            if stopping.load(ordering: .relaxed) { return }
            // One snapshot per batch: an update lands in the next one.
            let snapshot = core.snapshot
            for index in 0..<UInt32(received) {
                let length = Int(berth_dgram_length(batch, index))
                guard length > 0, let data = berth_dgram_data(batch, index),
                      let peer = berth_dgram_peer(batch, index)
                else { continue }
                let packet = UnsafeRawBufferPointer(start: data, count: length)
                let outcome = resolver.respond(
                    to: packet, from: IPAddress(peer), snapshot: snapshot, transport: .udp, allocator: allocator)
                switch consume outcome {
                case .drop:
                    break
                case .reply(let reply):
                    let count = reply.readableBytes
                    if count <= Self.replySlice, let slot = berth_dgram_reply_buffer(batch, index) {
                        reply.withUnsafeReadableBytes { bytes in
                            UnsafeMutableRawBufferPointer(start: slot, count: count).copyMemory(from: bytes)
                        }
                        berth_dgram_set_reply(batch, index, UInt32(count))
                    }
                    resolver.recycle(reply)
                case .forward(let query, let upstreams):
                    let client = PeerAddress(peer, length: berth_dgram_peer_length(batch, index))
                    forward(allocator.buffer(bytes: packet), query: query, upstreams: upstreams, client: client,
                            core: core, loop: loop)
                }
            }
            if berth_dgram_send(fd, batch, &gso) < 0 { continue }  // socket closing; the loop condition ends it
            if received >= Self.busyBatch, received < Self.batchSize {  // a full batch: more is waiting
                var pause = Self.busyPause
                nanosleep(&pause, nil)
            }
        }
    }

    /// Forwarding runs on the event loop; the answer comes back through `send`.
    private func forward(
        _ packet: ByteBuffer, query: Query, upstreams: [SocketAddress], client: PeerAddress, core: ServerCore,
        loop: any EventLoop
    ) {
        loop.execute {
            core.forward(packet, query: query, upstreams: upstreams, transport: .udp, on: loop, allocator: ByteBufferAllocator())
                .whenSuccess { reply in self.send(reply, to: client) }
        }
    }

    private func send(_ reply: ByteBuffer, to client: PeerAddress) {
        socket.withLock { fd in
            guard fd >= 0 else { return }
            reply.withUnsafeReadableBytes { bytes in
                client.withSockaddr { address, length in
                    _ = sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), address, length)
                }
            }
        }
    }

    private static func openSocket(_ address: SocketAddress) throws -> Int32 {
        let family: Int32
        switch address {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        default: throw BerthError(.invalidArgument, "DNS listens on IP addresses only, not \(address)")
        }
        let fd = Glibc.socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BerthError(.kernel, "socket: \(String(cString: strerror(errno)))") }
        func option(_ level: Int32, _ name: Int32, _ value: Int32) {
            var value = value
            _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
        option(Int32(IPPROTO_IP), 15, 1)  // IP_FREEBIND, honoured for IPv6 sockets too
        option(SOL_SOCKET, SO_RCVBUF, 1 << 20)  // bursts from many containers at once
        var tick = timeval(tv_sec: 1, tv_usec: 0)  // the thread rechecks `stopping` at least this often
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, socklen_t(MemoryLayout<timeval>.size))
        let bound = address.withSockAddr { pointer, length in bind(fd, pointer, socklen_t(length)) }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw BerthError(.kernel, "bind \(address): \(reason)")
        }
        return fd
    }

    private static func boundPort(_ fd: Int32) throws -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0 else { throw BerthError(.kernel, "getsockname: \(String(cString: strerror(errno)))") }
        // sin_port and sin6_port sit at the same offset, in network order.
        let port = withUnsafeBytes(of: storage) { UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) }
        return Int(port)
    }

    /// Runs `body` on a new detached thread: it blocks in recvmmsg, so it cannot be an event
    /// loop or a task.
    private func startThread(_ body: @escaping @Sendable () -> Void) throws {
        let box = Unmanaged.passRetained(ThreadBody(body))
        var handle = pthread_t()
        let status = pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
        guard status == 0 else {
            box.release()
            throw BerthError(.kernel, "cannot start the DNS thread: \(String(cString: strerror(status)))")
        }
        pthread_detach(handle)
    }
}

private final class ThreadBody: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// A client's socket address as received, kept to send a forwarded answer back later.
struct PeerAddress: Sendable {
    private var storage = sockaddr_storage()
    private let length: socklen_t

    init(_ address: UnsafePointer<sockaddr>, length: socklen_t) {
        let length = min(length, socklen_t(MemoryLayout<sockaddr_storage>.size))
        self.length = length
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(length))) }
    }

    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

extension IPAddress {
    /// The source of a received datagram, straight from the kernel's sockaddr.
    init?(_ address: UnsafePointer<sockaddr>) {
        let raw = UnsafeRawPointer(address)
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            // sin_addr at offset 4, network order.
            self = .v4(IPv4Address(UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))))
        case AF_INET6:
            // sin6_addr at offset 8.
            let high = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            let low = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            self = .unmapped(high: high, low: low)
        default:
            return nil
        }
    }
}

import BerthCore
import NIOCore
import NIOPosix
import Synchronization

/// berth's embedded DNS server for user-defined networks.
///
/// Why one service listening on each network's gateway address:
/// - The gateway is already an address every container on the network reaches directly, so
///   no socket inside each container's namespace, no NAT rule redirecting 127.0.0.11 (what
///   Docker needs), and no DNS process per container or network (what aardvark spawns).
/// - One socket per network rather than per container: containers come and go without
///   touching the DNS server beyond an `update`, which swaps an immutable snapshot.
/// - The requester's source address says which container is asking, so one socket can
///   still scope answers: a container sees only names on networks it is on.
/// - Forwarding happens from the daemon's own namespace, so the host's resolv.conf works as
///   it is, even when it names a loopback stub resolver such as 127.0.0.53.
///
///     let dns = DNSServer(upstreams: [DNSUpstream(.v4(hostResolver))])
///     try await dns.listen(on: .v4(gateway))        // when a network comes up
///     dns.update(records)                            // whenever containers change
///     await dns.stopListening(on: .v4(gateway))      // when the network goes
///     await dns.shutdown()
public final class DNSServer: Sendable {
    public struct Configuration: Sendable {
        /// How long to wait for each upstream server before trying the next one.
        public var upstreamTimeout: Duration
        /// Forwarded queries in flight at once; beyond it, SERVFAIL at once.
        public var maxForwardsInFlight: Int
        /// TTL of local answers. Short, because a restarted container may get a new address.
        public var ttl: UInt32
        /// TCP connections idle this long are closed (RFC 7766 suggests seconds).
        public var tcpIdleTimeout: Duration
        /// Open TCP connections per listening address; more are closed on arrival.
        public var maxTCPConnections: Int

        public init(
            upstreamTimeout: Duration = .seconds(2), maxForwardsInFlight: Int = 1024, ttl: UInt32 = 60,
            tcpIdleTimeout: Duration = .seconds(10), maxTCPConnections: Int = 256
        ) {
            self.upstreamTimeout = upstreamTimeout
            self.maxForwardsInFlight = maxForwardsInFlight
            self.ttl = ttl
            self.tcpIdleTimeout = tcpIdleTimeout
            self.maxTCPConnections = maxTCPConnections
        }
    }

    private let core: ServerCore
    private let group: any EventLoopGroup
    private let configuration: Configuration
    private let listeners = Mutex<[IPAddress: Listener]>([:])
    private let isShutDown = Atomic<Bool>(false)

    /// - Parameter upstreams: the daemon's resolvers (from its resolv.conf), used for
    ///   containers without `--dns` of their own.
    public init(
        upstreams: [DNSUpstream], configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
        core = ServerCore(
            upstreams: upstreams,
            forwarder: Forwarder(timeout: TimeAmount(configuration.upstreamTimeout), maxInFlight: configuration.maxForwardsInFlight),
            ttl: configuration.ttl)
    }

    /// Replaces everything the server knows; queries already being answered finish with the
    /// records they started with.
    public func update(_ records: DNSRecords) {
        core.update(records)
    }

    /// Replaces the daemon's upstream servers (e.g. after its resolv.conf changed).
    public func setUpstreams(_ upstreams: [DNSUpstream]) {
        core.setUpstreams(upstreams)
    }

    /// The addresses currently listened on, with their port.
    public var listeningAddresses: [IPAddress: Int] {
        listeners.withLock { $0.mapValues(\.port) }
    }

    /// Starts serving UDP and TCP on `address`:`port`. Listening again on the same address
    /// is a no-op. The sockets use IP_FREEBIND, so this works even before the address is
    /// configured (e.g. an IPv6 gateway still in duplicate address detection).
    ///
    /// - Parameter port: 0 picks a free port (for tests); the port bound is returned.
    @discardableResult
    public func listen(on address: IPAddress, port: Int = 53) async throws -> Int {
        guard !isShutDown.load(ordering: .relaxed) else {
            throw BerthError(.unavailable, "the DNS server is shut down")
        }
        if let existing = listeners.withLock({ $0[address] }) { return existing.port }
        let listener: Listener
        do {
            listener = try await bind(address, port: port)
        } catch {
            // A concurrent listen on the same address may have bound it first.
            if let existing = listeners.withLock({ $0[address] }) { return existing.port }
            throw BerthError(.kernel, "cannot listen for DNS on \(DNSUpstream(address, port: port))", cause: error)
        }
        let winner = listeners.withLock { listeners -> Listener in
            if let other = listeners[address] { return other }
            listeners[address] = listener
            return listener
        }
        if winner !== listener { await listener.close() }  // a concurrent listen got there first
        if isShutDown.load(ordering: .relaxed) {
            await stopListening(on: address)
            throw BerthError(.unavailable, "the DNS server is shut down")
        }
        return winner.port
    }

    /// Stops serving on `address`, closing its sockets and open TCP connections.
    public func stopListening(on address: IPAddress) async {
        guard let listener = listeners.withLock({ $0.removeValue(forKey: address) }) else { return }
        await listener.close()
    }

    /// Stops serving everywhere. Forwarded queries still in flight end by their timeout.
    public func shutdown() async {
        isShutDown.store(true, ordering: .relaxed)
        let all = listeners.withLock { listeners in
            defer { listeners.removeAll() }
            return Array(listeners.values)
        }
        for listener in all { await listener.close() }
    }

    private func bind(_ address: IPAddress, port: Int) async throws -> Listener {
        let core = self.core
        let idle = TimeAmount(configuration.tcpIdleTimeout)
        let maxConnections = configuration.maxTCPConnections
        let socketAddress = try SocketAddress(ipAddress: address.description, port: port)
        let freeBind = ChannelOptions.Types.SocketOption(level: .ip, name: .init(rawValue: 15))  // IP_FREEBIND
        let loop = group.next()

        // UDP, where nearly all queries come: a thread of its own (see DatagramServer).
        let datagram = try DatagramServer(address: socketAddress, core: core, loop: loop)
        let boundPort = datagram.port
        let listener = Listener(datagram: datagram, port: boundPort)
        do {
            let tcpAddress = try SocketAddress(ipAddress: address.description, port: boundPort)
            listener.stream = try await ServerBootstrap(group: loop)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(freeBind, value: 1)
                .serverChannelOption(ChannelOptions.backlog, value: 128)
                .childChannelInitializer { channel in
                    guard listener.track(channel, limit: maxConnections) else {
                        return channel.close()
                    }
                    return channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(IdleStateHandler(readTimeout: idle))
                        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder()))
                        try pipeline.addHandler(StreamQueryHandler(core: core))
                    }
                }
                .bind(to: tcpAddress).get()
        } catch {
            await listener.close()
            throw error
        }
        return listener
    }
}

/// The sockets serving one address, and its open TCP connections (closed with it).
private final class Listener: Sendable {
    let port: Int
    private let datagram: DatagramServer
    private let state = Mutex<(stream: (any Channel)?, connections: [ObjectIdentifier: any Channel])>((nil, [:]))

    init(datagram: DatagramServer, port: Int) {
        self.datagram = datagram
        self.port = port
    }

    var stream: (any Channel)? {
        get { state.withLock { $0.stream } }
        set { state.withLock { $0.stream = newValue } }
    }

    /// Remembers an accepted connection so `close` can end it; false when `limit` are open.
    func track(_ channel: any Channel, limit: Int) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = state.withLock { state -> Bool in
            guard state.connections.count < limit else { return false }
            state.connections[id] = channel
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { _ in
            _ = self.state.withLock { $0.connections.removeValue(forKey: id) }
        }
        return true
    }

    func close() async {
        let (stream, connections) = state.withLock { state in
            defer { state.connections.removeAll() }
            return (state.stream, Array(state.connections.values))
        }
        await datagram.close()
        // Closing fails only for a channel already closed, which is the goal.
        try? await stream?.close()
        for connection in connections { try? await connection.close() }
    }
}

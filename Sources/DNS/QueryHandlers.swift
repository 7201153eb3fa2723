import BerthCore
import NIOCore
import Synchronization

/// State every listener shares: the current snapshot and the forwarder.
final class ServerCore: Sendable {
    private struct State {
        var records = DNSRecords()
        var upstreams: [DNSUpstream]
        var snapshot: Snapshot
    }

    let forwarder: Forwarder
    let ttl: UInt32
    private let state: Mutex<State>

    init(upstreams: [DNSUpstream], forwarder: Forwarder, ttl: UInt32) {
        self.forwarder = forwarder
        self.ttl = ttl
        state = Mutex(State(upstreams: upstreams, snapshot: Snapshot(records: DNSRecords(), upstreams: upstreams)))
    }

    var snapshot: Snapshot { state.withLock { $0.snapshot } }

    func update(_ records: DNSRecords) {
        // Compile outside the lock; only the swap is inside it.
        let upstreams = state.withLock { $0.upstreams }
        let snapshot = Snapshot(records: records, upstreams: upstreams)
        state.withLock {
            $0.records = records
            $0.snapshot = snapshot
        }
    }

    func setUpstreams(_ upstreams: [DNSUpstream]) {
        state.withLock {
            $0.upstreams = upstreams
            $0.snapshot = Snapshot(records: $0.records, upstreams: upstreams)
        }
    }

    /// Forwards `packet` and produces what goes back to the client: the relayed answer, or
    /// SERVFAIL when no upstream answered. Runs on `loop` throughout.
    func forward(
        _ packet: ByteBuffer, query: Query, upstreams: [SocketAddress], transport: Transport,
        on loop: any EventLoop, allocator: ByteBufferAllocator
    ) -> EventLoopFuture<ByteBuffer> {
        let framed = transport.framed
        let limit = transport == .tcp ? Int(UInt16.max) : query.udpLimit
        let failure: @Sendable () -> ByteBuffer = {
            packet.withUnsafeReadableBytes { bytes in
                var writer = ResponseWriter(query: query, packet: bytes, framed: framed, limit: limit, allocator: allocator)
                return writer.finish(.serverFailure, authoritative: false, recursionAvailable: true)
            }
        }
        guard let answer = forwarder.forward(
            packet, upstreams: upstreams, overTCP: transport == .tcp, clientLimit: query.clientUDPLimit, on: loop) else {
            return loop.makeSucceededFuture(failure())
        }
        return answer.map { answer in
            packet.withUnsafeReadableBytes { bytes in
                ResponseWriter.relay(answer, query: query, packet: bytes, framed: framed, allocator: allocator)
            }
        }.recover { _ in failure() }
    }
}

/// Serves one UDP listening socket. Replies to local names are written as the datagrams
/// are read and flushed once per read burst, so NIO sends them with one sendmmsg.
final class DatagramQueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let core: ServerCore
    private var resolver: Resolver
    /// Taken once per read burst instead of once per datagram.
    private var snapshot: Snapshot?
    private var needsFlush = false

    init(core: ServerCore) {
        self.core = core
        resolver = Resolver(ttl: core.ttl)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let snapshot = self.snapshot ?? core.snapshot
        self.snapshot = snapshot
        let allocator = context.channel.allocator
        let outcome = resolver.respond(
            to: envelope.data, from: IPAddress(envelope.remoteAddress), snapshot: snapshot, transport: .udp,
            allocator: allocator)
        switch outcome {
        case .drop:
            break
        case .reply(let reply):
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
            needsFlush = true
        case .forward(let query, let upstreams):
            // Copy: the datagram is a slice of NIO's large receive buffer, which it can then reuse.
            var packet = allocator.buffer(capacity: envelope.data.readableBytes)
            packet.writeImmutableBuffer(envelope.data)
            let channel = context.channel
            let client = envelope.remoteAddress
            core.forward(packet, query: query, upstreams: upstreams, transport: .udp, on: context.eventLoop, allocator: allocator)
                .whenSuccess { reply in
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: reply), promise: nil)
                }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        snapshot = nil
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Datagram errors (an ICMP error for an earlier reply, a failed send) concern one
        // client; the socket keeps serving everyone else.
    }
}

/// Serves one DNS-over-TCP connection (after `FrameDecoder`): answers may be pipelined and
/// forwarded ones may come back out of order, which RFC 7766 §6.2.1.1 allows.
final class StreamQueryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let core: ServerCore
    private var resolver: Resolver
    private var client: IPAddress?
    private var needsFlush = false

    init(core: ServerCore) {
        self.core = core
        resolver = Resolver(ttl: core.ttl)
    }

    func channelActive(context: ChannelHandlerContext) {
        client = context.channel.remoteAddress.flatMap(IPAddress.init)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { client = context.channel.remoteAddress.flatMap(IPAddress.init) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let packet = unwrapInboundIn(data)
        let allocator = context.channel.allocator
        switch resolver.respond(to: packet, from: client, snapshot: core.snapshot, transport: .tcp, allocator: allocator) {
        case .drop:
            // No usable header: the stream cannot be trusted to be DNS any more.
            context.close(promise: nil)
        case .reply(let reply):
            context.write(wrapOutboundOut(reply), promise: nil)
            needsFlush = true
        case .forward(let query, let upstreams):
            let channel = context.channel
            core.forward(packet, query: query, upstreams: upstreams, transport: .tcp, on: context.eventLoop, allocator: allocator)
                .whenSuccess { reply in channel.writeAndFlush(reply, promise: nil) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)  // idle client: free the connection
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

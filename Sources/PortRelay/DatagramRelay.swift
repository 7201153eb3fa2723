import NIOCore
import NIOPosix

/// UDP on a relayed port: each client address gets a socket of its own connected to the
/// container, whose answers go back to that client from the published port. A flow
/// silent for `idleLimit` is closed, as conntrack forgets an idle UDP flow.
final class DatagramRelayHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    static let idleLimit: TimeAmount = .seconds(120)
    /// Datagrams a flow holds while its socket is being made; more are dropped, as a
    /// full socket buffer would.
    static let queueLimit = 64

    private struct Flow {
        var channel: (any Channel)?
        var queued: [ByteBuffer] = []
        var lastSeen: NIODeadline
    }

    private let target: SocketAddress
    private var flows: [SocketAddress: Flow] = [:]
    private var sweep: RepeatedTask?

    init(target: SocketAddress) {
        self.target = target
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        sweep = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.idleLimit, delay: Self.idleLimit) { _ in
            handler.value.closeIdleFlows()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        sweep?.cancel()
        for flow in flows.values { flow.channel?.close(promise: nil) }
        flows = [:]
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let client = envelope.remoteAddress
        let now = NIODeadline.now()
        if var flow = flows[client] {
            flow.lastSeen = now
            if let channel = flow.channel {
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: envelope.data), promise: nil)
            } else if flow.queued.count < Self.queueLimit {
                flow.queued.append(envelope.data)
            }
            flows[client] = flow
            return
        }
        flows[client] = Flow(queued: [envelope.data], lastSeen: now)
        open(for: client, listener: context.channel, eventLoop: context.eventLoop)
    }

    private func open(for client: SocketAddress, listener: any Channel, eventLoop: any EventLoop) {
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramReplyHandler(listener: listener, client: client))
                }
            }
            .connect(to: target)
            .whenComplete { result in
                handler.value.opened(result, for: client)
            }
    }

    private func opened(_ result: Result<any Channel, any Error>, for client: SocketAddress) {
        guard var flow = flows[client] else {
            if case .success(let channel) = result { channel.close(promise: nil) }
            return
        }
        switch result {
        case .success(let channel):
            for datagram in flow.queued {
                channel.write(AddressedEnvelope(remoteAddress: target, data: datagram), promise: nil)
            }
            channel.flush()
            flow.queued = []
            flow.channel = channel
            flows[client] = flow
        case .failure:
            flows[client] = nil  // the datagrams are lost, as when nothing listens
        }
    }

    private func closeIdleFlows() {
        let now = NIODeadline.now()
        for (client, flow) in flows where now - flow.lastSeen > Self.idleLimit {
            flow.channel?.close(promise: nil)
            flows[client] = nil
        }
    }
}

/// A flow's answers from the container, sent back to its client from the published port.
final class DatagramReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let listener: any Channel
    private let client: SocketAddress

    init(listener: any Channel, client: SocketAddress) {
        self.listener = listener
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        listener.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: envelope.data), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable from the container reads as an error here: not fatal.
    }
}

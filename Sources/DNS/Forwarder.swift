import NIOCore
import NIOPosix
import Synchronization

/// Relays queries for names that are not local to upstream servers, entirely on the
/// calling handler's event loop. A query that came over TCP goes upstream over TCP; one that
/// came over UDP goes over UDP, and again over TCP if that answer was truncated.
///
/// Each attempt uses a fresh connected socket with a random source port and a random query
/// ID (the client's ID is restored on the way back), so answers are hard to spoof and a
/// connected socket turns an ICMP "port unreachable" into an immediate error instead of a
/// timeout. Servers are tried in order, each with its own timeout; a SERVFAIL or REFUSED
/// answer also moves on to the next one, and is relayed only if no one does better.
final class Forwarder: Sendable {
    struct Timeout: Error {}
    struct Closed: Error {}

    let timeout: TimeAmount
    let maxInFlight: Int
    private let inFlight = Atomic<Int>(0)

    init(timeout: TimeAmount, maxInFlight: Int) {
        self.timeout = timeout
        self.maxInFlight = maxInFlight
    }

    /// The upstream's answer (still carrying the ID we sent), or a failed future when every
    /// server failed; nil without trying when too many forwards are already in flight.
    /// - Parameter clientLimit: the largest UDP answer the client takes (ignored over TCP).
    func forward(
        _ packet: ByteBuffer, upstreams: [SocketAddress], overTCP: Bool, clientLimit: Int, on loop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer>? {
        guard !upstreams.isEmpty else { return loop.makeFailedFuture(Closed()) }
        let (_, now) = inFlight.wrappingAdd(1, ordering: .relaxed)
        guard now <= maxInFlight else {
            inFlight.wrappingSubtract(1, ordering: .relaxed)
            return nil
        }
        let result = attempt(
            packet, upstreams: upstreams, index: 0, fallback: nil, overTCP: overTCP, clientLimit: clientLimit, on: loop)
        result.whenComplete { _ in self.inFlight.wrappingSubtract(1, ordering: .relaxed) }
        return result
    }

    private func attempt(
        _ packet: ByteBuffer, upstreams: [SocketAddress], index: Int, fallback: ByteBuffer?, overTCP: Bool,
        clientLimit: Int, on loop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer> {
        let id = UInt16.random(in: 0...UInt16.max)
        var copy = packet
        copy.setInteger(id, at: copy.readerIndex)
        let query = copy
        let upstream = upstreams[index]
        let exchange: EventLoopFuture<ByteBuffer>
        if overTCP {
            exchange = streamExchange(query, id: id, with: upstream, on: loop)
        } else {
            exchange = datagramExchange(query, id: id, with: upstream, on: loop).flatMap { answer in
                let flags = answer.getInteger(at: answer.readerIndex + 2, as: UInt16.self) ?? 0
                guard flags & HeaderFlags.truncated != 0 else { return loop.makeSucceededFuture(answer) }
                // Truncated by the upstream: ask again over TCP, and use the full answer if it
                // fits the client's own UDP limit; if not, the client gets TC and retries over TCP.
                return self.streamExchange(query, id: id, with: upstream, on: loop)
                    .map { full in full.readableBytes <= clientLimit ? full : answer }
                    .recover { _ in answer }
            }
        }
        let next = index + 1
        return exchange
            .map { Result<ByteBuffer, any Error>.success($0) }
            .recover { .failure($0) }
            .flatMap { result -> EventLoopFuture<ByteBuffer> in
                switch result {
                case .success(let answer):
                    let code = (answer.getInteger(at: answer.readerIndex + 2, as: UInt16.self) ?? 0) & HeaderFlags.rcodeMask
                    let unhelpful = code == UInt16(ResponseCode.serverFailure.rawValue)
                        || code == UInt16(ResponseCode.refused.rawValue)
                    if unhelpful, next < upstreams.count {
                        return self.attempt(
                            packet, upstreams: upstreams, index: next, fallback: answer, overTCP: overTCP,
                            clientLimit: clientLimit, on: loop)
                    }
                    return loop.makeSucceededFuture(answer)
                case .failure(let error):
                    if next < upstreams.count {
                        return self.attempt(
                            packet, upstreams: upstreams, index: next, fallback: fallback, overTCP: overTCP,
                            clientLimit: clientLimit, on: loop)
                    }
                    if let fallback { return loop.makeSucceededFuture(fallback) }
                    return loop.makeFailedFuture(error)
                }
            }
    }

    private func datagramExchange(
        _ query: ByteBuffer, id: UInt16, with upstream: SocketAddress, on loop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer> {
        let promise = loop.makePromise(of: ByteBuffer.self)
        DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamDatagramHandler(id: id, promise: promise))
                }
            }
            .connect(to: upstream)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(error)
                case .success(let channel):
                    self.arm(promise, closing: channel, on: loop)
                    channel.writeAndFlush(query).whenFailure { promise.fail($0) }
                }
            }
        return promise.futureResult
    }

    private func streamExchange(
        _ query: ByteBuffer, id: UInt16, with upstream: SocketAddress, on loop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer> {
        let promise = loop.makePromise(of: ByteBuffer.self)
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(UpstreamStreamHandler(id: id, promise: promise))
                }
            }
            .connect(to: upstream)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(error)
                case .success(let channel):
                    self.arm(promise, closing: channel, on: loop)
                    var framed = channel.allocator.buffer(capacity: query.readableBytes + 2)
                    framed.writeInteger(UInt16(truncatingIfNeeded: query.readableBytes))
                    framed.writeImmutableBuffer(query)
                    channel.writeAndFlush(framed).whenFailure { promise.fail($0) }
                }
            }
        return promise.futureResult
    }

    /// Fails the exchange after the timeout, and closes its socket however it ends.
    private func arm(_ promise: EventLoopPromise<ByteBuffer>, closing channel: any Channel, on loop: any EventLoop) {
        let timer = loop.scheduleTask(in: timeout) { promise.fail(Timeout()) }
        promise.futureResult.whenComplete { _ in
            timer.cancel()
            channel.close(promise: nil)
        }
    }
}

/// Is `answer` a response to the query we sent with `id`?
private func isAnswer(_ answer: ByteBuffer, to id: UInt16) -> Bool {
    guard answer.readableBytes >= WireLimits.headerLength,
          let answerID = answer.getInteger(at: answer.readerIndex, as: UInt16.self),
          let flags = answer.getInteger(at: answer.readerIndex + 2, as: UInt16.self)
    else { return false }
    return answerID == id && flags & HeaderFlags.response != 0
}

private final class UpstreamDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let id: UInt16
    private let promise: EventLoopPromise<ByteBuffer>

    init(id: UInt16, promise: EventLoopPromise<ByteBuffer>) {
        self.id = id
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let answer = unwrapInboundIn(data).data
        // Anything else (stale or forged) is ignored; the timeout still runs.
        if isAnswer(answer, to: id) { promise.succeed(answer) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)  // e.g. ECONNREFUSED from an ICMP port unreachable
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(Forwarder.Closed())
    }
}

private final class UpstreamStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let id: UInt16
    private let promise: EventLoopPromise<ByteBuffer>

    init(id: UInt16, promise: EventLoopPromise<ByteBuffer>) {
        self.id = id
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let answer = unwrapInboundIn(data)
        if isAnswer(answer, to: id) { promise.succeed(answer) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(Forwarder.Closed())
    }
}

/// DNS over TCP frames (RFC 1035 §4.2.2): a 2-byte length, then the message.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
              buffer.readableBytes >= 2 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame at EOF is dropped: there is no one left to answer.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

import Foundation
import NIOCore
import NIOHTTP1

/// Response body chunks (or raw stream bytes) on their way from the event loop to the caller.
typealias BodyProducer = NIOThrowingAsyncSequenceProducer<
    ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, ReadGate
>

/// Backpressure: reading from the socket pauses while the consumer lags, via autoRead.
struct ReadGate: NIOAsyncSequenceProducerDelegate {
    let channel: any Channel

    func produceMore() {
        channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
    }

    func didTerminate() {
        // The consumer is gone or the stream ended; connections are never reused.
        channel.close(promise: nil)
    }
}

extension BodyProducer.Source {
    /// Yields on the event loop and pauses reading when the consumer asks us to stop.
    func yieldPausingReads(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        if yield(buffer) == .stopProducing {
            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        }
    }
}

/// Reads one HTTP response. For a hijack request, a 101 switches the connection to raw bytes
/// (handled by `RawClientHandler`); any other response streams its body.
final class ClientResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private enum State {
        case awaitingHead
        case body
        case upgrading(HTTPResponseHead)
        case done
    }

    private let headPromise: EventLoopPromise<HTTPResponseHead>
    private let source: BodyProducer.Source
    private let expectsUpgrade: Bool
    /// Encoder and header validator, removed when the connection leaves HTTP.
    private let outboundHTTPHandlers: [any RemovableChannelHandler]
    private let decoder: ByteToMessageHandler<HTTPResponseDecoder>
    private var state = State.awaitingHead

    private init(
        headPromise: EventLoopPromise<HTTPResponseHead>,
        source: BodyProducer.Source,
        expectsUpgrade: Bool,
        outboundHTTPHandlers: [any RemovableChannelHandler],
        decoder: ByteToMessageHandler<HTTPResponseDecoder>
    ) {
        self.headPromise = headPromise
        self.source = source
        self.expectsUpgrade = expectsUpgrade
        self.outboundHTTPHandlers = outboundHTTPHandlers
        self.decoder = decoder
    }

    /// Sets up the pipeline of a fresh connection; runs on its event loop.
    static func install(
        on channel: any Channel,
        expectsUpgrade: Bool
    ) throws -> (head: EventLoopFuture<HTTPResponseHead>, body: BodyProducer) {
        let sequence = BodyProducer.makeSequence(
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 16),
            finishOnDeinit: true,
            delegate: ReadGate(channel: channel)
        )
        let promise = channel.eventLoop.makePromise(of: HTTPResponseHead.self)
        let encoder = HTTPRequestEncoder()
        // The decoder sees outgoing request heads (so it knows a HEAD response has no body) and,
        // after a 101, hands on the bytes that followed the head when it is removed.
        let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
        let validator = NIOHTTPRequestHeadersValidator()
        let handler = ClientResponseHandler(
            headPromise: promise,
            source: sequence.source,
            expectsUpgrade: expectsUpgrade,
            outboundHTTPHandlers: [validator, encoder],
            decoder: decoder
        )
        try channel.pipeline.syncOperations.addHandlers([encoder, decoder, validator, handler])
        return (promise.futureResult, sequence.sequence)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .awaitingHead):
            if head.status.code == 101 {
                guard expectsUpgrade else {
                    fail(HTTPClientError.invalidResponse("unexpected 101 response"), context: context)
                    return
                }
                state = .upgrading(head)  // switch once the decoder has seen the end of this head
            } else {
                state = .body
                if expectsUpgrade {
                    // A server that ignores the upgrade sends the raw stream as the body; no
                    // request bytes may follow, so the outbound HTTP handlers can go already.
                    removeOutboundHTTPHandlers(context: context)
                }
                headPromise.succeed(head)
            }
        case (.body(let chunk), .body):
            source.yieldPausingReads(chunk, context: context)
        case (.end, .body):
            state = .done
            source.finish()
        case (.end, .upgrading(let head)):
            state = .done
            becomeRaw(context: context)
            headPromise.succeed(head)
        default:
            fail(HTTPClientError.invalidResponse("unexpected HTTP response part"), context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // With half-closure allowed, the decoder has already turned the EOF into `.end` if the
        // body was complete; what's left means the server stopped early.
        if let event = event as? ChannelEvent, event == .inputClosed {
            connectionEnded(context: context)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connectionEnded(context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(clientError(error), context: context)
    }

    private func connectionEnded(context: ChannelHandlerContext) {
        switch state {
        case .awaitingHead, .upgrading:
            headPromise.fail(HTTPClientError.connectionClosed)
            source.finish(HTTPClientError.connectionClosed)
        case .body:
            source.finish(HTTPClientError.connectionClosed)
        case .done:
            ()
        }
        state = .done
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        switch state {
        case .awaitingHead, .upgrading:
            headPromise.fail(error)
            source.finish(error)
        case .body:
            source.finish(error)
        case .done:
            ()
        }
        state = .done
        context.close(promise: nil)
    }

    private func removeOutboundHTTPHandlers(context: ChannelHandlerContext) {
        for handler in outboundHTTPHandlers {
            context.pipeline.syncOperations.removeHandler(handler, promise: nil)
        }
    }

    /// Leaves HTTP: raw bytes go to a `RawClientHandler` feeding the same body sequence.
    private func becomeRaw(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        removeOutboundHTTPHandlers(context: context)
        do {
            try pipeline.addHandler(RawClientHandler(source: source))
        } catch {
            source.finish(error)
            context.close(promise: nil)
            return
        }
        pipeline.removeHandler(context: context, promise: nil)
        // Removed last: bytes that arrived with the 101 are forwarded to the raw handler.
        pipeline.removeHandler(decoder, promise: nil)
    }
}

/// Feeds the bytes of a hijacked connection into the body sequence until EOF.
final class RawClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let source: BodyProducer.Source

    init(source: BodyProducer.Source) {
        self.source = source
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        source.yieldPausingReads(unwrapInboundIn(data), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server closed its side: output is complete, though we may still send.
        if let event = event as? ChannelEvent, event == .inputClosed {
            source.finish()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        source.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        source.finish(clientError(error))
        context.close(promise: nil)
    }
}

/// Turns NIO's errors into the ones callers can act on, so the CLI needn't know NIO.
private func clientError(_ error: any Error) -> any Error {
    switch error {
    case let parserError as HTTPParserError:
        // A body cut off by the close shows up as an EOF the parser didn't expect.
        return parserError == .invalidEOFState
            ? HTTPClientError.connectionClosed : HTTPClientError.invalidResponse(String(describing: parserError))
    case let ioError as IOError where ioError.errnoCode == ECONNRESET || ioError.errnoCode == EPIPE:
        return HTTPClientError.connectionClosed
    default:
        return error
    }
}

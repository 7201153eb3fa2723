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
            // Fails only on a closed channel, which reads nothing more anyway.
            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        }
    }
}

/// Reads one HTTP response. For a hijack request, a 101 switches the connection to raw bytes
/// (handled by `HijackReader`); any other response streams its body.
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
    /// First in the pipeline of a hijack request; nil otherwise.
    private let hijackReader: HijackReader?
    private var state = State.awaitingHead

    private init(
        headPromise: EventLoopPromise<HTTPResponseHead>,
        source: BodyProducer.Source,
        expectsUpgrade: Bool,
        outboundHTTPHandlers: [any RemovableChannelHandler],
        decoder: ByteToMessageHandler<HTTPResponseDecoder>,
        hijackReader: HijackReader?
    ) {
        self.headPromise = headPromise
        self.source = source
        self.expectsUpgrade = expectsUpgrade
        self.outboundHTTPHandlers = outboundHTTPHandlers
        self.decoder = decoder
        self.hijackReader = hijackReader
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
        let hijackReader = expectsUpgrade ? HijackReader(source: sequence.source) : nil
        let handler = ClientResponseHandler(
            headPromise: promise,
            source: sequence.source,
            expectsUpgrade: expectsUpgrade,
            outboundHTTPHandlers: [validator, encoder],
            decoder: decoder,
            hijackReader: hijackReader
        )
        let handlers: [any ChannelHandler] = [encoder, decoder, validator, handler]
        try channel.pipeline.syncOperations.addHandlers(hijackReader.map { [$0] + handlers } ?? handlers)
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

    /// Leaves HTTP: from now on the hijack reader feeds raw bytes into the same body sequence.
    private func becomeRaw(context: ChannelHandlerContext) {
        guard let hijackReader else {
            fail(HTTPClientError.invalidResponse("unexpected 101 response"), context: context)
            return
        }
        hijackReader.becomeRaw()
        let pipeline = context.pipeline.syncOperations
        removeOutboundHTTPHandlers(context: context)
        pipeline.removeHandler(context: context, promise: nil)
        // It holds no bytes of the stream (the reader gave it the head only).
        pipeline.removeHandler(decoder, promise: nil)
    }
}

/// First in a hijack request's pipeline. Until the response head is complete, it hands bytes
/// to the HTTP decoder, and never one byte past the head: a short command's whole output
/// often comes in the same read as the 101, followed at once by the server's close, and
/// bytes left in the decoder were lost (the decoder leaves the pipeline a tick later and
/// drops leftovers once it has seen EOF), so `exec` printed nothing and exited 0.
/// After a 101 it feeds the body sequence itself, and the end of the stream (EOF, close,
/// error) comes only after every byte read before it. Any other response passes on whole.
/// (The only answer to a hijack request is one head: no 1xx comes before it.)
final class HijackReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum Mode {
        case head
        case raw
        case http
    }

    private let source: BodyProducer.Source
    private var mode = Mode.head
    /// How many bytes of the "\r\n\r\n" that ends the head were seen in a row.
    private var matched = 0

    init(source: BodyProducer.Source) {
        self.source = source
    }

    /// Called on the event loop, while the head is being decoded, when it is a 101.
    func becomeRaw() { mode = .raw }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        switch mode {
        case .raw:
            source.yieldPausingReads(buffer, context: context)
        case .http:
            context.fireChannelRead(data)
        case .head:
            guard let end = headEnd(in: buffer), let head = buffer.readSlice(length: end) else {
                context.fireChannelRead(data)
                return
            }
            mode = .http
            context.fireChannelRead(wrapInboundOut(head))  // decoded at once; a 101 sets .raw
            guard buffer.readableBytes > 0 else { return }
            if mode == .raw {
                source.yieldPausingReads(buffer, context: context)
            } else {
                context.fireChannelRead(wrapInboundOut(buffer))
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server closed its side: output is complete, though we may still send.
        if mode == .raw, let event = event as? ChannelEvent, event == .inputClosed {
            source.finish()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if mode == .raw { source.finish() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard mode == .raw else {
            context.fireErrorCaught(error)
            return
        }
        source.finish(clientError(error))
        context.close(promise: nil)
    }

    /// The length of the part of `buffer` up to and including the end of the head, if it ends there.
    private func headEnd(in buffer: ByteBuffer) -> Int? {
        for (offset, byte) in buffer.readableBytesView.enumerated() {
            let expected: UInt8 = matched % 2 == 0 ? 13 : 10
            if byte == expected {
                matched += 1
            } else {
                matched = byte == 13 ? 1 : 0
            }
            if matched == 4 { return offset + 1 }
        }
        return nil
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

import NIOCore
import NIOHTTP1

/// Bridges one connection's HTTP/1.1 pipeline to the async route handlers.
///
/// NIO's `HTTPServerPipelineHandler` in front of us holds back pipelined requests until the
/// current response has ended, so this handler only ever deals with one request at a time.
final class ServerConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer?)
        case responding
        /// A response was sent that ends the connection; ignore everything until it closes.
        case closing
        /// The HTTP handlers are being taken out for a hijack; HTTP parts are dropped.
        case hijacking
    }

    /// What the response needs to know about the request it answers.
    private struct Exchange {
        var request: HTTPRequest
        var version: HTTPVersion
        var keepAlive: Bool
    }

    private let router: Router
    private let configuration: HTTPServer.Configuration
    /// The HTTP handlers in front of us except the decoder, removed on hijack.
    private let httpHandlers: [any RemovableChannelHandler]
    /// Removed last on hijack so bytes that came after the request reach the raw stream.
    private let decoder: ByteToMessageHandler<HTTPRequestDecoder>
    private var state = State.idle
    private var inputClosed = false

    private init(
        router: Router,
        configuration: HTTPServer.Configuration,
        httpHandlers: [any RemovableChannelHandler],
        decoder: ByteToMessageHandler<HTTPRequestDecoder>
    ) {
        self.router = router
        self.configuration = configuration
        self.httpHandlers = httpHandlers
        self.decoder = decoder
    }

    /// Builds the pipeline for a new connection. Must run on the channel's event loop.
    static func install(on channel: any Channel, router: Router, configuration: HTTPServer.Configuration) throws {
        var encoderConfiguration = HTTPResponseEncoder.Configuration()
        // We set Content-Length / Transfer-Encoding ourselves: a hijacked 200 must go out
        // with neither, which the automatic framing would "fix" into chunked.
        encoderConfiguration.automaticallySetFramingHeaders = false
        let encoder = HTTPResponseEncoder(configuration: encoderConfiguration)
        // forwardBytes: after an Upgrade request the decoder stops parsing, and whatever the
        // client sent next (stdin) must be handed on when the decoder is removed.
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        let pipelining = HTTPServerPipelineHandler()
        let validator = NIOHTTPResponseHeadersValidator()
        let protocolErrors = HTTPServerProtocolErrorHandler()  // answers malformed requests with 400
        let handler = ServerConnectionHandler(
            router: router,
            configuration: configuration,
            httpHandlers: [pipelining, validator, protocolErrors, encoder],
            decoder: decoder
        )
        try channel.pipeline.syncOperations.addHandlers([encoder, decoder, pipelining, validator, protocolErrors, handler])
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (part, state) {
        case (_, .closing), (_, .hijacking):
            return
        case (.head(let head), _):
            if let length = head.headers.first(name: "content-length").flatMap(Int.init),
                length > configuration.maxBodySize
            {
                rejectTooLarge(head, context: context)
                return
            }
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
                    promise: nil
                )
            }
            state = .receiving(head, nil)
        case (.body(var chunk), .receiving(let head, var body)):
            if (body?.readableBytes ?? 0) + chunk.readableBytes > configuration.maxBodySize {
                rejectTooLarge(head, context: context)
                return
            }
            if body == nil {
                body = chunk
            } else {
                state = .responding  // drop our reference first so the append doesn't copy the buffer
                body?.writeBuffer(&chunk)
            }
            state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            state = .responding
            dispatch(head, body: body, context: context)
        case (.body, _), (.end, _):
            // Parts of a request we already answered (e.g. rejected); nothing to do.
            return
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, event == .inputClosed else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        inputClosed = true
        switch state {
        case .idle, .receiving:
            // Nothing in flight (or a request that can never complete): we're done.
            state = .closing
            context.close(promise: nil)
        case .responding, .closing, .hijacking:
            // The response in flight ends with a close since `inputClosed` is set; a hijack re-fires it.
            ()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Parser errors were already answered with 400 by HTTPServerProtocolErrorHandler.
        state = .closing
        context.close(promise: nil)
    }

    // MARK: Dispatch

    private func dispatch(_ head: HTTPRequestHead, body: ByteBuffer?, context: ChannelHandlerContext) {
        let target = RequestTarget(head.uri)
        let method = HTTPMethod(head.method.rawValue)
        let match: Router.Match = target.path.hasPrefix("/") ? router.match(method, path: target.path) : .notFound
        var params: [String: String] = [:]
        if case .found(_, let found) = match {
            params = found
        }
        let request = HTTPRequest(
            method: method,
            path: String(target.path),
            apiVersion: target.apiVersion,
            params: params,
            query: QueryParameters(parsing: target.query),
            headers: HTTPHeaderFields(head.headers.map { ($0.name, $0.value) }),
            body: body.map { Array($0.readableBytesView) } ?? []
        )
        let exchange = Exchange(request: request, version: head.version, keepAlive: head.isKeepAlive)
        switch match {
        case .found(let handler, _):
            // Handlers run off the event loop; the response comes back to it to be written.
            let promise = context.eventLoop.makePromise(of: HTTPResponse.self)
            promise.completeWithTask { await handler(request) }
            promise.futureResult.assumeIsolated().whenSuccess { response in
                self.respond(response, to: exchange, context: context)
            }
        case .methodNotAllowed(let allowed):
            let response = HTTPResponse.error(.methodNotAllowed, "method not allowed")
                .header("Allow", allowed.map(\.rawValue).joined(separator: ", "))
            respond(response, to: exchange, context: context)
        case .notFound:
            respond(.error(.notFound, "page not found"), to: exchange, context: context)
        }
    }

    private func rejectTooLarge(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let request = HTTPRequest(method: HTTPMethod(head.method.rawValue), path: RequestTarget(head.uri).path.description)
        let exchange = Exchange(request: request, version: head.version, keepAlive: false)
        state = .responding
        respond(.error(.payloadTooLarge, "request body too large"), to: exchange, context: context)
    }

    // MARK: Responses

    private func respond(_ response: HTTPResponse, to exchange: Exchange, context: ChannelHandlerContext) {
        guard context.channel.isActive else {
            state = .closing
            return
        }
        let request = exchange.request
        let isHEAD = request.method == .HEAD
        var headers = HTTPHeaders()
        for field in configuration.defaultHeaders where !response.headers.contains(field.name) {
            headers.add(name: field.name, value: field.value)
        }
        for field in response.headers {
            headers.add(name: field.name, value: field.value)
        }
        // Framing is ours alone (see `install`); a handler's own would conflict with it.
        headers.remove(name: "content-length")
        headers.remove(name: "transfer-encoding")

        // After an Upgrade request the decoder parses nothing more, so only a hijack can follow.
        var close = !exchange.keepAlive || inputClosed || request.wantsUpgrade
        let status = response.status

        switch response.body {
        case .hijacked(let body):
            hijack(body, headers: headers, exchange: exchange, context: context)
            return
        case .empty:
            configuration.onResponse?(request, status)
            if status.allowsBody {
                headers.add(name: "Content-Length", value: "0")
            }
            finish(status, headers, body: nil, exchange: exchange, close: close, context: context)
        case .bytes(let bytes):
            configuration.onResponse?(request, status)
            var buffer: ByteBuffer?
            if status.allowsBody {
                headers.add(name: "Content-Length", value: String(bytes.count))
                if !isHEAD {
                    buffer = context.channel.allocator.buffer(bytes: bytes)
                }
            }
            finish(status, headers, body: buffer, exchange: exchange, close: close, context: context)
        case .stream(let produce):
            configuration.onResponse?(request, status)
            guard status.allowsBody, !isHEAD else {
                finish(status, headers, body: nil, exchange: exchange, close: close, context: context)
                return
            }
            if exchange.version.supportsChunking {
                headers.add(name: "Transfer-Encoding", value: "chunked")
            } else {
                close = true  // HTTP/1.0 has no chunking: the body ends with the connection
            }
            setConnectionHeader(&headers, close: close, version: exchange.version)
            let head = HTTPResponseHead(version: exchange.version, status: nioStatus(status), headers: headers)
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
            startStream(produce, close: close, context: context)
        }
    }

    private func finish(
        _ status: HTTPStatus,
        _ headers: HTTPHeaders,
        body: ByteBuffer?,
        exchange: Exchange,
        close: Bool,
        context: ChannelHandlerContext
    ) {
        var headers = headers
        setConnectionHeader(&headers, close: close, version: exchange.version)
        let head = HTTPResponseHead(version: exchange.version, status: nioStatus(status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        endResponse(close: close, context: context)
    }

    /// Writes the end of the response. State changes first: writing `.end` lets the pipelining
    /// handler deliver the next request to us re-entrantly.
    private func endResponse(close: Bool, context: ChannelHandlerContext) {
        if close {
            state = .closing
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            state = .idle
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    private func setConnectionHeader(_ headers: inout HTTPHeaders, close: Bool, version: HTTPVersion) {
        if close {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if !version.supportsChunking {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
    }

    private func startStream(
        _ produce: @escaping @Sendable (StreamWriter) async throws -> Void,
        close: Bool,
        context: ChannelHandlerContext
    ) {
        let channel = context.channel
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let task = Task {
            do {
                try await produce(StreamWriter(channel: channel))
                channel.eventLoop.execute {
                    let (handler, context) = bound.value
                    handler.endResponse(close: close || handler.inputClosed, context: context)
                }
            } catch {
                // The body can't be completed properly; a cut-off chunked body tells the client so.
                channel.close(promise: nil)
            }
        }
        // A client that goes away must not leave a follow/events producer running forever.
        channel.closeFuture.whenComplete { _ in task.cancel() }
    }

    // MARK: Hijack

    private func hijack(
        _ body: @escaping @Sendable (RawStreamWriter) async throws -> Void,
        headers: HTTPHeaders,
        exchange: Exchange,
        context: ChannelHandlerContext
    ) {
        var headers = headers
        let status: HTTPResponseStatus
        if exchange.request.wantsUpgrade {
            // What dockerd answers; the CLI only checks the code.
            status = .custom(code: 101, reasonPhrase: "UPGRADED")
            headers.replaceOrAdd(name: "Connection", value: "Upgrade")
            headers.replaceOrAdd(name: "Upgrade", value: "tcp")
        } else {
            // No upgrade asked: a 200 whose body is the raw stream, delimited by the close.
            status = .ok
            headers.replaceOrAdd(name: "Connection", value: "close")
        }
        if !headers.contains(name: "content-type") {
            headers.add(name: "Content-Type", value: RawStream.contentType)
        }
        configuration.onResponse?(exchange.request, HTTPStatus(Int(status.code)))
        let head = HTTPResponseHead(version: exchange.version, status: status, headers: headers)
        context.writeAndFlush(wrapOutboundOut(.head(head))).assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                self.becomeRaw(body, context: context)
            case .failure:
                self.state = .closing
                context.close(promise: nil)
            }
        }
    }

    /// Takes the HTTP handlers out so the connection carries raw bytes, then runs `body`.
    private func becomeRaw(
        _ body: @escaping @Sendable (RawStreamWriter) async throws -> Void,
        context: ChannelHandlerContext
    ) {
        let channel = context.channel
        state = .hijacking
        do {
            let pipeline = channel.pipeline.syncOperations
            // Whatever these still buffer (a half-close, stray request parts) comes to us and is
            // dropped or remembered, never to the raw stream, which only takes bytes.
            for handler in httpHandlers {
                pipeline.removeHandler(handler, promise: nil)
            }
            pipeline.removeHandler(context: context, promise: nil)
            let raw = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            let inputClosed = self.inputClosed
            pipeline.removeHandler(decoder).assumeIsolated().whenComplete { _ in
                // The decoder handed its leftovers on as a read without a read-complete, and the
                // async channel delivers reads only on read-complete.
                channel.pipeline.syncOperations.fireChannelReadComplete()
                if inputClosed {
                    channel.pipeline.syncOperations.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
                }
            }
            let task = Task {
                // Writes are awaited to completion, so closing after `body` returns loses nothing.
                try? await raw.executeThenClose { inbound, _ in
                    try await body(RawStreamWriter(channel: channel, input: RawInput(stream: inbound)))
                }
            }
            channel.closeFuture.whenComplete { _ in task.cancel() }
        } catch {
            channel.close(promise: nil)
        }
    }
}

extension HTTPVersion {
    /// HTTP/1.1 and later; 1.0 keeps connections only on request and has no chunked bodies.
    fileprivate var supportsChunking: Bool {
        major > 1 || (major == 1 && minor >= 1)
    }
}

private func nioStatus(_ status: HTTPStatus) -> HTTPResponseStatus {
    HTTPResponseStatus(statusCode: status.code)
}

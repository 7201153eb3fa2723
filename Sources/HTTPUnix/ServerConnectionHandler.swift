import Foundation
import NIOCore
import NIOHTTP1

/// Bridges one connection's HTTP/1.1 pipeline to the async route handlers.
///
/// NIO's `HTTPServerPipelineHandler` in front of us holds back pipelined requests until the
/// current response has ended, so this handler only ever deals with one request at a time.
/// It is also an outbound handler so it can hold back reads while an upload's writes to disk
/// catch up.
final class ServerConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum State {
        case idle
        /// A head arrived; its body goes to `body` or `spool`. The state carries no buffer, so
        /// matching on it never adds a reference that would make every append copy the body.
        case receiving(HTTPRequestHead, Router.Match)
        case responding
        /// A response was sent that ends the connection; ignore everything until it closes.
        case closing
        /// The HTTP handlers are being taken out for a hijack; HTTP parts are dropped.
        case hijacking
    }

    /// What the response needs to know about the request it answers.
    struct Exchange {
        var request: HTTPRequest
        var version: HTTPVersion
        var keepAlive: Bool
    }

    /// Upload writes allowed in flight before the connection stops reading.
    private static let maxPendingUploadWrites = 4

    let router: Router
    let configuration: HTTPServer.Configuration
    let slot: ConnectionSlot
    /// The HTTP handlers in front of us except the decoder, removed on hijack.
    let httpHandlers: [any RemovableChannelHandler]
    /// Removed last on hijack so bytes that came after the request reach the raw stream.
    let decoder: ByteToMessageHandler<HTTPRequestDecoder>
    var state = State.idle
    var inputClosed = false
    /// The body of a `.buffered` route, grown in place.
    private var body: ByteBuffer?
    /// The file a `.file` route's body goes to.
    private var spool: UploadSpool?
    /// A read asked for while the spool had too many writes in flight.
    private var readHeld = false

    private init(
        router: Router,
        configuration: HTTPServer.Configuration,
        slot: ConnectionSlot,
        httpHandlers: [any RemovableChannelHandler],
        decoder: ByteToMessageHandler<HTTPRequestDecoder>
    ) {
        self.router = router
        self.configuration = configuration
        self.slot = slot
        self.httpHandlers = httpHandlers
        self.decoder = decoder
    }

    /// Builds the pipeline for a new connection. Must run on the channel's event loop.
    static func install(
        on channel: any Channel,
        router: Router,
        configuration: HTTPServer.Configuration,
        slot: ConnectionSlot
    ) throws {
        var encoderConfiguration = HTTPResponseEncoder.Configuration()
        // We set Content-Length / Transfer-Encoding ourselves: a hijacked 200 must go out
        // with neither, which the automatic framing would "fix" into chunked.
        encoderConfiguration.automaticallySetFramingHeaders = false
        let encoder = HTTPResponseEncoder(configuration: encoderConfiguration)
        // forwardBytes: after an Upgrade request the decoder stops parsing, and whatever the
        // client sent next (stdin) must be handed on when the decoder is removed.
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        // Reports silence only; this handler decides whether the silence matters (see `idleTimedOut`).
        let idle = IdleStateHandler(readTimeout: configuration.idleTimeout)
        let pipelining = HTTPServerPipelineHandler()
        let validator = NIOHTTPResponseHeadersValidator()
        let protocolErrors = HTTPServerProtocolErrorHandler()  // answers malformed requests with 400
        let handler = ServerConnectionHandler(
            router: router,
            configuration: configuration,
            slot: slot,
            httpHandlers: [idle, pipelining, validator, protocolErrors, encoder],
            decoder: decoder
        )
        try channel.pipeline.syncOperations.addHandlers([idle, encoder, decoder, pipelining, validator, protocolErrors, handler])
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (part, state) {
        case (_, .closing), (_, .hijacking):
            return
        case (.head(let head), _):
            slot.setIdle(false)
            receive(head, context: context)
        case (.body(var chunk), .receiving(let head, _)):
            if let spool {
                guard chunk.readableBytes <= configuration.maxUploadSize - spool.size else {
                    rejectTooLarge(head, limit: configuration.maxUploadSize, context: context)
                    return
                }
                spool.append(chunk) { [weak self] in self?.releaseHeldRead(context: context) }
            } else {
                guard chunk.readableBytes <= configuration.maxBodySize - (body?.readableBytes ?? 0) else {
                    rejectTooLarge(head, limit: configuration.maxBodySize, context: context)
                    return
                }
                if body == nil {
                    body = context.channel.allocator.buffer(capacity: chunk.readableBytes)
                }
                body?.writeBuffer(&chunk)  // in place: `body` is the only reference
            }
        case (.end, .receiving(let head, let match)):
            state = .responding
            if let spool {
                self.spool = nil
                spool.finish().assumeIsolated().whenComplete { result in
                    self.releaseHeldRead(context: context)
                    switch result {
                    case .success:
                        self.dispatch(head, match, body: nil, bodyFile: spool.path, context: context)
                    case .failure(let error):
                        unlink(spool.path)
                        self.respondAndClose(head, .error(.internalServerError, "cannot store the request body: \(error)"),
                                             context: context)
                    }
                }
            } else {
                let complete = body
                body = nil
                dispatch(head, match, body: complete, bodyFile: nil, context: context)
            }
        case (.body, _), (.end, _):
            // Parts of a request we already answered (e.g. rejected); nothing to do.
            return
        }
    }

    /// A request head: routes it, refuses a declared body over the cap before any of it is
    /// read, and gets the body's destination ready.
    private func receive(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let target = RequestTarget(head.uri)
        let match: Router.Match =
            target.path.hasPrefix("/") ? router.match(HTTPMethod(head.method.rawValue), path: target.path) : .notFound
        var toFile = false
        if case .found(_, _, .file) = match {
            toFile = true
        }
        let limit = toFile ? configuration.maxUploadSize : configuration.maxBodySize
        let declared = head.headers.first(name: "content-length").flatMap(Int.init)
        if let declared, declared > limit {
            rejectTooLarge(head, limit: limit, context: context)
            return
        }
        if toFile {
            do {
                spool = try UploadSpool(directory: configuration.uploadDirectory ?? NSTemporaryDirectory(),
                                        eventLoop: context.eventLoop)
            } catch {
                respondAndClose(head, .error(.internalServerError, "cannot store the request body: \(error)"), context: context)
                return
            }
        } else if let declared, declared > 0 {
            body = context.channel.allocator.buffer(capacity: declared)  // declared <= maxBodySize
        }
        if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
            context.writeAndFlush(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
                promise: nil
            )
        }
        state = .receiving(head, match)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent {
            if idle == .read {
                idleTimedOut(context: context)
            }
            return
        }
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

    /// Nothing came in for `idleTimeout`. That matters only while we wait for the client: for a
    /// request (close: an idle keep-alive connection or a half-sent head) or for the rest of a
    /// body (408). A response being produced or streamed (wait, logs --follow) is left alone.
    private func idleTimedOut(context: ChannelHandlerContext) {
        switch state {
        case .idle:
            state = .closing
            context.close(promise: nil)
        case .receiving(let head, _):
            if let spool, spool.pendingWrites > 0 {
                return  // we stopped reading for the disk: the silence is ours
            }
            respondAndClose(head, .error(.requestTimeout, "timed out waiting for the request body"), context: context)
        case .responding, .closing, .hijacking:
            return
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Parser errors were already answered with 400 by HTTPServerProtocolErrorHandler.
        state = .closing
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        dropBody()
        context.fireChannelInactive()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if let spool, spool.pendingWrites >= Self.maxPendingUploadWrites {
            readHeld = true
            return
        }
        context.read()
    }

    private func releaseHeldRead(context: ChannelHandlerContext) {
        guard readHeld else { return }
        readHeld = false
        context.read()
    }

    // MARK: Dispatch

    private func dispatch(
        _ head: HTTPRequestHead,
        _ match: Router.Match,
        body: ByteBuffer?,
        bodyFile: String?,
        context: ChannelHandlerContext
    ) {
        let target = RequestTarget(head.uri)
        var params: [String: String] = [:]
        if case .found(_, let found, _) = match {
            params = found
        }
        let request = HTTPRequest(
            method: HTTPMethod(head.method.rawValue),
            path: String(target.path),
            apiVersion: target.apiVersion,
            params: params,
            query: QueryParameters(parsing: target.query),
            headers: HTTPHeaderFields(head.headers.map { ($0.name, $0.value) }),
            body: body.map { Array($0.readableBytesView) } ?? [],
            bodyFile: bodyFile
        )
        let exchange = Exchange(request: request, version: head.version, keepAlive: head.isKeepAlive)
        switch match {
        case .found(let handler, _, _):
            // Handlers run off the event loop; the response comes back to it to be written.
            let promise = context.eventLoop.makePromise(of: HTTPResponse.self)
            promise.completeWithTask {
                let response = await handler(request)
                if let bodyFile {
                    unlink(bodyFile)  // the handler is done with it
                }
                return response
            }
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

    private func rejectTooLarge(_ head: HTTPRequestHead, limit: Int, context: ChannelHandlerContext) {
        respondAndClose(head, .error(.payloadTooLarge, "request body too large: the limit is \(limit) bytes"), context: context)
    }

    /// Answers without running a handler and ends the connection: the rest of the request is
    /// not read.
    private func respondAndClose(_ head: HTTPRequestHead, _ response: HTTPResponse, context: ChannelHandlerContext) {
        dropBody()
        let request = HTTPRequest(method: HTTPMethod(head.method.rawValue), path: RequestTarget(head.uri).path.description)
        let exchange = Exchange(request: request, version: head.version, keepAlive: false)
        state = .responding
        respond(response, to: exchange, context: context)
    }

    private func dropBody() {
        body = nil
        spool?.discard()
        spool = nil
    }
}

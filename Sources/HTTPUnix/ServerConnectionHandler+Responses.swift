import NIOCore
import NIOHTTP1

/// Writing responses: complete, streamed (chunked) and hijacked (raw) ones.
extension ServerConnectionHandler {
    // MARK: Responses

    func respond(_ response: HTTPResponse, to exchange: Exchange, context: ChannelHandlerContext) {
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

    func finish(
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
    func endResponse(close: Bool, context: ChannelHandlerContext) {
        if close {
            state = .closing
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            state = .idle
            slot.setIdle(true)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    func setConnectionHeader(_ headers: inout HTTPHeaders, close: Bool, version: HTTPVersion) {
        if close {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if !version.supportsChunking {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
    }

    func startStream(
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

    func hijack(
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
    func becomeRaw(
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
                // A session's error ends only that session (the peer went away, or the body
                // failed): nobody else is waiting for it.
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
    var supportsChunking: Bool {
        major > 1 || (major == 1 && minor >= 1)
    }
}

func nioStatus(_ status: HTTPStatus) -> HTTPResponseStatus {
    HTTPResponseStatus(statusCode: status.code)
}

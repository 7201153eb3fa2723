import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A response as it arrives: the head, then body bytes; the stream ends with the response.
enum ResponsePart: Sendable {
    case head(HTTPResponseHead)
    case body(ByteBuffer)
}

/// Raised inside the pipeline; turned into `EtcdError` by the caller, who knows the path.
enum ExchangeFailure: Error, Sendable {
    case timedOut
    case closed
    case busy
    case transport(String)
}

/// One request written into the pipeline, with where its response goes.
struct Exchange: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer
    var sink: AsyncThrowingStream<ResponsePart, any Error>.Continuation
    /// Time allowed for the answer: the whole response, or only its head for streams
    /// (a watch stays open as long as it is wanted).
    var timeout: TimeAmount
    var timeoutCoversBody: Bool
}

/// Feeds each response to the exchange that asked for it. HTTP/1.1 without pipelining:
/// one exchange at a time per connection, which the pool guarantees.
final class ExchangeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Exchange
    typealias OutboundOut = HTTPClientRequestPart

    private var sink: AsyncThrowingStream<ResponsePart, any Error>.Continuation?
    private var timer: Scheduled<Void>?
    private var timeoutCoversBody = true
    private var closeAfterEnd = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard sink == nil else {
            exchange.sink.finish(throwing: ExchangeFailure.busy)
            promise?.fail(ExchangeFailure.busy)
            return
        }
        sink = exchange.sink
        timeoutCoversBody = exchange.timeoutCoversBody
        closeAfterEnd = false
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: exchange.timeout) { [weak self, context] in
            self?.fail(ExchangeFailure.timedOut)
            context.close(promise: nil)
        }
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if !timeoutCoversBody {
                timer?.cancel()
                timer = nil
            }
            // A server that says it will close leaves the connection useless for the next request.
            closeAfterEnd = !head.isKeepAlive
            sink?.yield(.head(head))
        case .body(let buffer):
            sink?.yield(.body(buffer))
        case .end:
            timer?.cancel()
            timer = nil
            sink?.finish()
            sink = nil
            if closeAfterEnd { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ExchangeFailure.closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(ExchangeFailure.transport(String(describing: error)))
        context.close(promise: nil)
    }

    private func fail(_ failure: ExchangeFailure) {
        timer?.cancel()
        timer = nil
        sink?.finish(throwing: failure)
        sink = nil
    }
}

/// One HTTP/1.1 (optionally TLS) connection to one etcd member.
final class HTTPConnection: Sendable {
    let channel: any Channel
    let endpoint: EtcdEndpoint

    private init(channel: any Channel, endpoint: EtcdEndpoint) {
        self.channel = channel
        self.endpoint = endpoint
    }

    var isActive: Bool { channel.isActive }

    func close() { channel.close(promise: nil) }

    static func connect(to endpoint: EtcdEndpoint, tls: NIOSSLContext?, timeout: Duration) async throws -> HTTPConnection {
        let host = endpoint.host
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(timeout))
            .channelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls {
                        // SNI cannot carry an IP address; NIOSSL then checks the certificate
                        // against the connected address instead.
                        // Not parsable as an address means a host name: nil is the answer.
                        let isIP = (try? SocketAddress(ipAddress: host, port: 0)) != nil
                        try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: isIP ? nil : host))
                    }
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(ExchangeHandler())
                }
            }
        do {
            let channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
            return HTTPConnection(channel: channel, endpoint: endpoint)
        } catch {
            throw EtcdError.connectFailed(endpoint: endpoint, reason: describe(error))
        }
    }

    /// Sends a POST with a JSON body; the response arrives on the returned stream. The caller
    /// must read it to the end before sending another request on this connection.
    func post(_ path: String, body: [UInt8], timeout: Duration, streaming: Bool) async throws -> AsyncThrowingStream<ResponsePart, any Error> {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: endpoint.hostHeader)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.count))
        head.headers.add(name: "User-Agent", value: "berth-etcd")
        let (stream, sink) = AsyncThrowingStream<ResponsePart, any Error>.makeStream()
        let channel = self.channel
        sink.onTermination = { termination in
            // A reader that stopped early (cancelled) leaves the rest of the response
            // on the wire; the connection can't be reused.
            if case .cancelled = termination { channel.close(promise: nil) }
        }
        let exchange = Exchange(
            head: head,
            body: channel.allocator.buffer(bytes: body),
            sink: sink,
            timeout: TimeAmount(timeout),
            timeoutCoversBody: !streaming
        )
        do {
            try await channel.writeAndFlush(exchange).get()
        } catch {
            sink.finish(throwing: error)
            throw Self.translate(error, endpoint: endpoint, path: path, timeout: timeout)
        }
        return stream
    }

    /// Turns pipeline failures into errors that name the endpoint and path.
    static func translate(_ error: any Error, endpoint: EtcdEndpoint, path: String, timeout: Duration) -> EtcdError {
        switch error {
        case let etcd as EtcdError: return etcd
        case ExchangeFailure.timedOut: return .timedOut(endpoint: endpoint, path: path, after: timeout)
        case ExchangeFailure.closed: return .connectionLost(endpoint: endpoint, path: path, reason: "closed by peer")
        case ExchangeFailure.busy: return .connectionLost(endpoint: endpoint, path: path, reason: "connection busy (client bug)")
        case ExchangeFailure.transport(let why): return .connectionLost(endpoint: endpoint, path: path, reason: why)
        default: return .connectionLost(endpoint: endpoint, path: path, reason: describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return io.description }
        return String(describing: error)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// The idle connections to one endpoint. A request takes one (or opens one) and gives it
/// back when its response was read to the end, so sequential requests share one TCP
/// connection and concurrent ones get their own.
actor ConnectionPool {
    let endpoint: EtcdEndpoint
    private let tls: NIOSSLContext?
    private var idle: [HTTPConnection] = []
    /// Idle connections kept beyond this are closed; bursts don't leave sockets behind.
    private let maxIdle = 4
    /// Connections opened so far (pooled and dedicated), for tests of reuse.
    private(set) var opened = 0

    init(endpoint: EtcdEndpoint, tls: NIOSSLContext?) {
        self.endpoint = endpoint
        self.tls = tls
    }

    func acquire(timeout: Duration) async throws -> HTTPConnection {
        while let connection = idle.popLast() {
            if connection.isActive { return connection }
        }
        opened += 1
        return try await HTTPConnection.connect(to: endpoint, tls: tls, timeout: timeout)
    }

    func release(_ connection: HTTPConnection) {
        guard connection.isActive, idle.count < maxIdle else {
            connection.close()
            return
        }
        idle.append(connection)
    }

    /// Opens a connection that is never pooled (for a watch, which keeps it busy).
    func dedicated(timeout: Duration) async throws -> HTTPConnection {
        opened += 1
        return try await HTTPConnection.connect(to: endpoint, tls: tls, timeout: timeout)
    }

    func closeAll() {
        for connection in idle { connection.close() }
        idle.removeAll()
    }
}

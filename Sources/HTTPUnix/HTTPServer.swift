import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP/1.1 server on a unix domain socket, dispatching to a `Router`.
///
///     var router = Router()
///     router.add(.GET, "/_ping") { _ in .text(.ok, "OK") }
///     let server = HTTPServer(socketPath: "/run/berth.sock", router: router)
///     try await server.start()
///     ...
///     await server.shutdown()
public actor HTTPServer {
    public struct Configuration: Sendable {
        /// Larger in-memory (JSON) request bodies are answered with 413 and the connection is
        /// closed: from Content-Length before any of the body is read, or as soon as a chunked
        /// body passes it.
        public var maxBodySize: Int
        /// The same for bodies of `.file` routes, which are written to disk as they arrive.
        public var maxUploadSize: Int
        /// Where `.file` routes' bodies are written (nil: the system's temporary directory).
        public var uploadDirectory: String?
        /// A connection silent this long while the server waits for a request (its head, or
        /// more of its body) is closed; a stalled body gets a 408 first. Never applies while a
        /// response is being produced or streamed, nor to hijacked connections.
        public var idleTimeout: TimeAmount
        /// At most this many connections are open; a new one over it takes the place of the
        /// connection idle the longest, or is closed at once if none is idle.
        public var maxConnections: Int
        /// Added to every response that doesn't set the same header itself (Api-Version, Server, ...).
        public var defaultHeaders: HTTPHeaderFields
        /// Mode for the socket file after bind; nil leaves the umask's choice.
        public var socketPermissions: Int?
        /// Called after each response head is written, e.g. for access logging.
        public var onResponse: (@Sendable (HTTPRequest, HTTPStatus) -> Void)?

        public init(
            maxBodySize: Int = 1 << 20,
            maxUploadSize: Int = 16 << 30,
            uploadDirectory: String? = nil,
            idleTimeout: TimeAmount = .seconds(60),
            maxConnections: Int = 4096,
            defaultHeaders: HTTPHeaderFields = HTTPHeaderFields(),
            socketPermissions: Int? = 0o660,
            onResponse: (@Sendable (HTTPRequest, HTTPStatus) -> Void)? = nil
        ) {
            self.maxBodySize = maxBodySize
            self.maxUploadSize = maxUploadSize
            self.uploadDirectory = uploadDirectory
            self.idleTimeout = idleTimeout
            self.maxConnections = maxConnections
            self.defaultHeaders = defaultHeaders
            self.socketPermissions = socketPermissions
            self.onResponse = onResponse
        }
    }

    public nonisolated let socketPath: String
    private let router: Router
    private let configuration: Configuration
    private let group: any EventLoopGroup
    private var listener: (any Channel)?
    /// Set while `start` is binding, so a second concurrent `start` can't bind over the first.
    private var starting = false
    private let connections: ConnectionSet

    public init(socketPath: String, router: Router, configuration: Configuration = Configuration()) {
        self.socketPath = socketPath
        self.router = router
        self.configuration = configuration
        self.connections = ConnectionSet(limit: configuration.maxConnections)
        self.group = MultiThreadedEventLoopGroup.singleton
    }

    /// Binds the socket (replacing a stale socket file) and starts accepting connections.
    public func start() async throws {
        guard listener == nil, !starting else { return }
        starting = true
        defer { starting = false }
        let router = self.router
        let configuration = self.configuration
        let connections = self.connections
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            // exec/attach clients half-close after stdin EOF and still expect the output.
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Over the limit with nothing idle to make room: the failure closes it at once.
                    guard let slot = connections.admit(channel) else { throw ConnectionLimitReached() }
                    try ServerConnectionHandler.install(
                        on: channel, router: router, configuration: configuration, slot: slot)
                }
            }
        let channel = try await bootstrap.bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true).get()
        if let mode = configuration.socketPermissions {
            do {
                try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: socketPath)
            } catch {
                try? await channel.close()  // the permissions error is the one to report
                throw error
            }
        }
        listener = channel
    }

    /// Stops accepting, closes every open connection (cancelling streams and hijacked sessions)
    /// and removes the socket file.
    public func shutdown() async {
        guard let listener else { return }
        self.listener = nil
        // Closing fails only for a channel already closed, which is the goal; a socket
        // file left behind is replaced by the next start (cleanupExistingSocketFile).
        try? await listener.close()
        for channel in connections.removeAll() {
            try? await channel.close()
        }
        try? FileManager.default.removeItem(atPath: socketPath)
    }
}

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
        /// Larger request bodies are answered with 413 and the connection is closed.
        public var maxBodySize: Int
        /// Added to every response that doesn't set the same header itself (Api-Version, Server, ...).
        public var defaultHeaders: HTTPHeaderFields
        /// Mode for the socket file after bind; nil leaves the umask's choice.
        public var socketPermissions: Int?
        /// Called after each response head is written, e.g. for access logging.
        public var onResponse: (@Sendable (HTTPRequest, HTTPStatus) -> Void)?

        public init(
            maxBodySize: Int = 16 << 20,
            defaultHeaders: HTTPHeaderFields = HTTPHeaderFields(),
            socketPermissions: Int? = 0o660,
            onResponse: (@Sendable (HTTPRequest, HTTPStatus) -> Void)? = nil
        ) {
            self.maxBodySize = maxBodySize
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
    private let connections = ConnectionSet()

    public init(socketPath: String, router: Router, configuration: Configuration = Configuration()) {
        self.socketPath = socketPath
        self.router = router
        self.configuration = configuration
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
                    try ServerConnectionHandler.install(on: channel, router: router, configuration: configuration)
                    connections.insert(channel)
                }
            }
        let channel = try await bootstrap.bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true).get()
        if let mode = configuration.socketPermissions {
            do {
                try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: socketPath)
            } catch {
                try? await channel.close()
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
        try? await listener.close()
        for channel in connections.removeAll() {
            try? await channel.close()
        }
        try? FileManager.default.removeItem(atPath: socketPath)
    }
}

/// Open connections, so shutdown can close them.
final class ConnectionSet: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func insert(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.channels.withLock { $0.removeValue(forKey: id) }
        }
    }

    func removeAll() -> [any Channel] {
        channels.withLock { all in
            defer { all.removeAll() }
            return Array(all.values)
        }
    }
}

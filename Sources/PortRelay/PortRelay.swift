import BerthCore
import Glibc
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Published ports in host-firewall mode: berthd serves the host port itself, so traffic
/// from outside reaches it only through the host's input path, where the host firewall
/// (ufw, firewalld, a user's nft table) decides as for any other port of the host; what
/// arrives is relayed to the container. The container sees the connection come from its
/// gateway. TCP streams are spliced with back-pressure; UDP is relayed per client.
///
/// Why a relay and not DNAT: DNAT happens before routing, so a DNATed packet takes the
/// forward path and the host's input rules never see it (moby#22054). IPVS, which
/// forwards after the input hook, is not in every kernel (not in this project's CI's).
public final class PortRelay: Sendable {
    public enum Transport: Sendable { case tcp, udp }

    private let group: MultiThreadedEventLoopGroup
    private let listeners = Mutex<[String: any Channel]>([:])
    private let logger: Logger

    /// One event loop thread serves every relayed port.
    public init(logger: Logger) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.logger = logger
    }

    /// Serves a bound socket, relaying what arrives to `target`. The relay owns the
    /// descriptor from this call on, failure included (it closes it, or NIO does once it
    /// has it): the caller never closes it. `key` names it for `stop`.
    public func serve(key: String, descriptor: Int32, transport: Transport, target: IPAddress, port: UInt16) throws(BerthError) {
        stop(key: key)
        // Until NIO's bootstrap has the descriptor, a failure closes it here.
        var handedOver = false
        defer { if !handedOver { close(descriptor) } }
        do {
            let address = try SocketAddress(ipAddress: target.description, port: Int(port))
            let channel: any Channel
            switch transport {
            case .tcp:
                guard listen(descriptor, 512) == 0 else {
                    throw BerthError(.internal, "cannot listen on \(key): \(String(cString: strerror(errno)))")
                }
                handedOver = true
                channel = try ServerBootstrap(group: group)
                    .childChannelOption(.autoRead, value: false)
                    .childChannelOption(.allowRemoteHalfClosure, value: true)
                    .childChannelInitializer { inbound in Self.splice(inbound, to: address) }
                    .withBoundSocket(descriptor).wait()
            case .udp:
                handedOver = true
                channel = try DatagramBootstrap(group: group)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(DatagramRelayHandler(target: address))
                        }
                    }
                    .withBoundSocket(descriptor).wait()
            }
            listeners.withLock { $0[key] = channel }
        } catch let error as BerthError {
            throw error
        } catch {
            throw BerthError(.internal, "cannot relay \(key) to \(target):\(port)", cause: error)
        }
    }

    /// Stops serving a port; its open connections end with it.
    public func stop(key: String) {
        let channel = listeners.withLock { $0.removeValue(forKey: key) }
        channel?.close(promise: nil)
    }

    public var servedKeys: [String] { listeners.withLock { Array($0.keys) } }

    /// Connects to the container, then joins both sides; reading starts only once they
    /// are joined, so no byte the client sent early is lost.
    private static func splice(_ inbound: any Channel, to target: SocketAddress) -> EventLoopFuture<Void> {
        ClientBootstrap(group: inbound.eventLoop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.autoRead, value: false)
            .connect(to: target)
            .flatMapThrowing { outbound in
                let (inner, outer) = StreamRelayHandler.pair()
                try inbound.pipeline.syncOperations.addHandler(inner)
                try outbound.pipeline.syncOperations.addHandler(outer)
                return outbound
            }
            .flatMap { (outbound: any Channel) -> EventLoopFuture<Void> in
                outbound.setOption(.autoRead, value: true).flatMap { @Sendable () -> EventLoopFuture<Void> in
                    inbound.setOption(.autoRead, value: true)
                }
            }
            .flatMapErrorThrowing { error in
                // The container does not answer: the client sees the connection closed.
                inbound.close(promise: nil)
                throw error
            }
    }
}

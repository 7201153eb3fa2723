import BerthCore
import Etcd
import Foundation
import Logging
import Synchronization

/// berth's cluster state in etcd: this node's registration and lease, overlay networks,
/// and address claims. Every decision two nodes could race on (a network name, a VNI, an
/// address, an overlapping subnet) is one etcd transaction; the rest of the node follows
/// from what etcd says (`ClusterFollower`).
public final class ClusterStore: Sendable {
    public let client: EtcdClient
    public let node: ClusterNode
    public let ttl: Duration
    let logger: Logger
    /// The current lease and its keeper; replaced when the lease is lost and re-made.
    private let session = Mutex<(lease: LeaseID?, keeper: LeaseKeeper?)>((nil, nil))
    /// This node's endpoints as written to etcd, so they can be written again under a new
    /// lease after an outage.
    private let ownEndpoints = Mutex<[String: ClusterEndpoint]>([:])
    private let rejoining = Mutex<Task<Void, Never>?>(nil)

    public init(client: EtcdClient, node: ClusterNode, ttl: Duration, logger: Logger) {
        self.client = client
        self.node = node
        self.ttl = ttl
        self.logger = logger
    }

    // MARK: membership

    /// Checks that etcd answers, registers this node under its advertised address with a
    /// fresh lease, and keeps the lease alive. Fails if another node advertises the address.
    public func join() async throws(BerthError) {
        do {
            _ = try await client.status()
        } catch {
            throw BerthError(.unavailable, "cannot reach the cluster store \(client.endpoints.map(\.description).joined(separator: ",")): \(Self.reason(error))")
        }
        try await register()
    }

    /// The current lease; nil before `join`.
    public var lease: LeaseID? { session.withLock { $0.lease } }

    private func register() async throws(BerthError) {
        let lease: LeaseID
        do {
            lease = try await client.grantLease(ttl: ttl)
        } catch {
            throw BerthError(.unavailable, "the cluster store refused a lease: \(Self.reason(error))")
        }
        let key = ClusterKeys.node(node.address.description)
        let value = try Self.encode(node)
        do {
            // Ours when absent, or when it is this node's own registration from before a
            // restart (same node ID, older lease).
            let result = try await client.txn(
                compare: [.createRevision(key, .equal, 0)],
                success: [.put(key: key, value: value, lease: lease)],
                failure: [.range(key: key, prefix: false)])
            if !result.succeeded {
                guard case .range(let range)? = result.responses.first, let current = range.first else {
                    throw BerthError(.unavailable, "the cluster store changed while registering this node; try again")
                }
                let holder = ClusterState.decode(ClusterNode.self, current.value)
                guard holder?.id == node.id else {
                    // Unused, and it expires after its TTL if this fails: the refusal is the news.
                    try? await client.revokeLease(lease)
                    throw BerthError.conflict("--cluster-advertise \(node.address) is already advertised by node \(holder?.hostname ?? "?") (\(holder?.id.prefix(12) ?? "?")); every node needs its own address")
                }
                let swapped = try await client.compareAndSwap(key, expectedModRevision: current.modRevision, newValue: value, lease: lease)
                guard swapped else { throw BerthError(.unavailable, "the cluster store changed while registering this node; try again") }
            }
        } catch let error as BerthError {
            throw error
        } catch {
            throw BerthError(.unavailable, "cannot register this node in the cluster store: \(Self.reason(error))")
        }
        let keeper = client.keepAlive(lease, ttl: ttl) { [weak self] loss in
            self?.leaseLost(loss)
        }
        let previous = session.withLock { state in
            defer { state = (lease, keeper) }
            return state.keeper
        }
        previous?.cancel()
    }

    /// The lease is gone (etcd lost it or could not be reached for a whole TTL): register
    /// again until it works, then write this node's endpoints back under the new lease.
    private func leaseLost(_ loss: EtcdError) {
        logger.warning("cluster lease lost; registering again", metadata: ["reason": .string(loss.description)])
        let task = Task { [self] in
            var pause: Duration = .milliseconds(200)
            while !Task.isCancelled {
                do {
                    try await register()
                    try await rewriteOwnEndpoints()
                    logger.info("cluster lease renewed")
                    return
                } catch {
                    logger.warning("cluster registration failed", metadata: ["error": .string("\(error)")])
                    try? await Task.sleep(for: pause)  // cancelled: the loop's check ends it
                    pause = min(pause * 2, .seconds(2))
                }
            }
        }
        // A second loss while registering again replaces the attempt under way.
        rejoining.withLock { previous in
            previous?.cancel()
            previous = task
        }
    }

    private func rewriteOwnEndpoints() async throws {
        guard let lease else { return }
        for endpoint in ownEndpoints.withLock({ Array($0.values) }) where !(try await reclaim(endpoint, lease: lease)) {
            ownEndpoints.withLock { $0[endpoint.key] = nil }
            logger.error("a container's overlay address could not be reclaimed: another node took it, or its network is gone",
                         metadata: ["container": .string(endpoint.containerName), "address": .stringConvertible(endpoint.address)])
        }
    }

    /// Writes one of this node's endpoints under `lease` if its address is free, or still
    /// this endpoint's own (from before a restart or an outage); false when another
    /// container took the address meanwhile, which is then left alone.
    private func reclaim(_ endpoint: ClusterEndpoint, lease: LeaseID) async throws -> Bool {
        let value = try Self.encode(endpoint)
        let network = Compare.createRevision(ClusterKeys.network(endpoint.networkID), .greater, 0)
        if try await client.txn(compare: [network, .createRevision(endpoint.key, .equal, 0)],
                                success: [.put(key: endpoint.key, value: value, lease: lease)]).succeeded {
            return true
        }
        return try await client.txn(compare: [network, .value(endpoint.key, .equal, value)],
                                    success: [.put(key: endpoint.key, value: value, lease: lease)]).succeeded
    }

    /// Stops renewing the lease. With `revoke` the node's keys vanish at once (orderly
    /// shutdown); otherwise they expire after the TTL.
    public func leave(revoke: Bool) async {
        rejoining.withLock { $0?.cancel() }
        let (lease, keeper) = session.withLock { state in
            defer { state = (nil, nil) }
            return state
        }
        keeper?.cancel()
        if revoke, let lease {
            do { try await client.revokeLease(lease) } catch {
                logger.warning("cannot revoke the cluster lease: other nodes keep this node's containers until it expires",
                               metadata: ["error": .string("\(error)")])
            }
        }
        await client.close()
    }

    // MARK: reading

    /// Everything under berth's prefix, at one revision.
    public func snapshot() async throws(BerthError) -> ClusterState {
        do {
            let listing = try await client.getPrefix(ClusterKeys.root)
            return ClusterState(listing: listing.kvs.map { ($0.key, $0.value) }, revision: listing.revision)
        } catch {
            throw Self.unavailable("cannot read the cluster store", error)
        }
    }

    // MARK: networks

    /// Creates an overlay network cluster-wide. `build` validates against the networks
    /// that exist and returns the new one; the write succeeds only if no network was
    /// created or removed in between (else `build` runs again on the newer list), so
    /// names, VNIs and subnets stay unique even when nodes create at the same moment.
    public func createNetwork(_ build: ([OverlayNetwork]) throws(BerthError) -> OverlayNetwork) async throws(BerthError) -> OverlayNetwork {
        for _ in 0..<8 {
            let existing: [OverlayNetwork]
            let generation: Int64
            do {
                let listing = try await client.getPrefix(ClusterKeys.networks)
                existing = listing.kvs.compactMap { ClusterState.decode(OverlayNetwork.self, $0.value) }
                generation = try await client.get(ClusterKeys.networksGeneration, revision: listing.revision).first?.modRevision ?? 0
            } catch {
                throw Self.unavailable("cannot read networks from the cluster store", error)
            }
            let network = try build(existing)
            let value = try Self.encode(network)
            do {
                let result = try await client.txn(
                    compare: [
                        .modRevision(ClusterKeys.networksGeneration, .equal, generation),
                        .createRevision(ClusterKeys.name(network.name), .equal, 0),
                        .createRevision(ClusterKeys.vni(network.vni), .equal, 0),
                    ],
                    success: [
                        .put(key: ClusterKeys.network(network.id), value: value, lease: nil),
                        .put(key: ClusterKeys.name(network.name), value: Array(network.id.utf8), lease: nil),
                        .put(key: ClusterKeys.vni(network.vni), value: Array(network.id.utf8), lease: nil),
                        .put(key: ClusterKeys.networksGeneration, value: Array(network.id.utf8), lease: nil),
                    ])
                if result.succeeded { return network }
                // A retried write may have landed before its connection broke.
                if let stored = try await client.get(ClusterKeys.network(network.id)).first,
                   ClusterState.decode(OverlayNetwork.self, stored.value) == network {
                    return network
                }
            } catch {
                throw Self.unavailable("cannot create the network in the cluster store", error)
            }
        }
        throw BerthError(.unavailable, "networks kept changing in the cluster store; try again")
    }

    /// Removes an overlay network cluster-wide, refused while any node has a container on it.
    public func removeNetwork(_ network: OverlayNetwork) async throws(BerthError) {
        do {
            let result = try await client.txn(
                compare: [
                    .createRevision(ClusterKeys.network(network.id), .greater, 0),
                    .prefixEmpty(ClusterKeys.endpoints(of: network.id)),
                ],
                success: [
                    .delete(key: ClusterKeys.network(network.id), prefix: false),
                    .delete(key: ClusterKeys.name(network.name), prefix: false),
                    .delete(key: ClusterKeys.vni(network.vni), prefix: false),
                    .put(key: ClusterKeys.networksGeneration, value: Array(network.id.utf8), lease: nil),
                ],
                failure: [
                    .range(key: ClusterKeys.network(network.id), prefix: false),
                    .range(key: ClusterKeys.endpoints(of: network.id), prefix: true),
                ])
            if result.succeeded { return }
            guard result.responses.count == 2, case .range(let networkRange) = result.responses[0],
                  case .range(let users) = result.responses[1] else {
                throw BerthError(.internal, "the cluster store answered the network removal oddly")
            }
            if networkRange.first == nil { return }  // already gone (a retried removal)
            let names = users.kvs.compactMap { ClusterState.decode(ClusterEndpoint.self, $0.value) }
                .map { "\($0.containerName) on \($0.node)" }
            throw BerthError.conflict("error while removing network: network \(network.name) id \(network.id) has active endpoints (\(names.joined(separator: ", ")))")
        } catch let error as BerthError {
            throw error
        } catch {
            throw Self.unavailable("cannot remove the network from the cluster store", error)
        }
    }

    // MARK: addresses

    /// Claims the endpoint's address cluster-wide under this node's lease: true if it is
    /// now this node's, false if another container holds it. Throws not-found when the
    /// network is gone.
    public func claim(_ endpoint: ClusterEndpoint) async throws(BerthError) -> Bool {
        guard let lease else { throw BerthError(.unavailable, "this node is not registered in the cluster store") }
        let value = try Self.encode(endpoint)
        do {
            let result = try await client.txn(
                compare: [
                    .createRevision(ClusterKeys.network(endpoint.networkID), .greater, 0),
                    .createRevision(endpoint.key, .equal, 0),
                ],
                success: [.put(key: endpoint.key, value: value, lease: lease)],
                failure: [.range(key: ClusterKeys.network(endpoint.networkID), prefix: false),
                          .range(key: endpoint.key, prefix: false)])
            if !result.succeeded {
                guard result.responses.count == 2, case .range(let network) = result.responses[0],
                      case .range(let holder) = result.responses[1] else {
                    throw BerthError(.internal, "the cluster store answered the address claim oddly")
                }
                guard network.first != nil else { throw BerthError.notFound("network \(endpoint.networkID) not found") }
                // A retried claim that had in fact landed is ours.
                guard let current = holder.first, ClusterState.decode(ClusterEndpoint.self, current.value) == endpoint else {
                    return false
                }
            }
        } catch let error as BerthError {
            throw error
        } catch {
            throw Self.unavailable("cannot claim \(endpoint.address) in the cluster store", error)
        }
        ownEndpoints.withLock { $0[endpoint.key] = endpoint }
        return true
    }

    /// Gives the address back (only if this container still holds it).
    public func release(_ endpoint: ClusterEndpoint) async throws(BerthError) {
        ownEndpoints.withLock { $0[endpoint.key] = nil }
        do {
            _ = try await client.txn(
                compare: [.value(endpoint.key, .equal, try Self.encode(endpoint))],
                success: [.delete(key: endpoint.key, prefix: false)])
        } catch let error as BerthError {
            throw error
        } catch {
            throw Self.unavailable("cannot release \(endpoint.address) in the cluster store", error)
        }
    }

    /// After a restart: writes the endpoints of containers still running here under the
    /// new lease, and deletes this node's other endpoints (containers that died meanwhile).
    /// Returns the endpoints whose address another node took while this one was away.
    @discardableResult
    public func resynchronize(running: [ClusterEndpoint], in state: ClusterState) async throws(BerthError) -> [ClusterEndpoint] {
        guard let lease else { throw BerthError(.unavailable, "this node is not registered in the cluster store") }
        var lost: [ClusterEndpoint] = []
        let wanted = Dictionary(running.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        do {
            for stale in state.endpoints.values where stale.nodeID == node.id && wanted[stale.key] == nil {
                _ = try await client.txn(
                    compare: [.value(stale.key, .equal, try Self.encode(stale))],
                    success: [.delete(key: stale.key, prefix: false)])
            }
            for endpoint in wanted.values {
                if try await reclaim(endpoint, lease: lease) {
                    ownEndpoints.withLock { $0[endpoint.key] = endpoint }
                } else {
                    lost.append(endpoint)
                }
            }
        } catch let error as BerthError {
            throw error
        } catch {
            throw Self.unavailable("cannot resynchronise this node's endpoints", error)
        }
        return lost
    }

    // MARK: helpers

    static func encode<T: Encodable>(_ value: T) throws(BerthError) -> [UInt8] {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys  // the same bytes every time: values are compared in transactions
            return Array(try encoder.encode(value))
        } catch {
            throw BerthError(.internal, "cannot encode \(T.self)", cause: error)
        }
    }

    static func reason(_ error: any Error) -> String {
        if let etcd = error as? EtcdError { return etcd.description }
        if let berth = error as? BerthError { return berth.description }
        return "\(error)"
    }

    static func unavailable(_ context: String, _ error: any Error) -> BerthError {
        if let berth = error as? BerthError { return berth }
        return BerthError(.unavailable, "\(context): \(reason(error))")
    }
}

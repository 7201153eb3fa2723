import BerthCore
@testable import Daemon
import Firewall
import Synchronization

/// berth's nftables table as sets: networks by bridge and published ports per container.
/// Host ports are handed out as the real one does (the asked port, or the first free from
/// 49153), and a port another container holds is refused.
final class FakeFirewall: FirewallService {
    struct State: Sendable {
        var started = false
        var networks: [String: FirewallNetwork] = [:]
        var published: [String: [PortMapping]] = [:]
        /// Anti-spoofing: guarded ports and what they may claim.
        var guarded: [String: GuardedEndpoint] = [:]
        var calls: [String] = []
        var failures: [String: BerthError] = [:]
    }

    let state = Mutex(State())

    var snapshot: State { state.withLock { $0 } }

    /// The next call of `operation` (e.g. "publish", "addNetwork") throws.
    func fail(_ operation: String, with error: BerthError = BerthError(.kernel, "injected nftables failure")) {
        state.withLock { $0.failures[operation] = error }
    }

    func calls(_ operation: String) -> Int {
        state.withLock { $0.calls.filter { $0 == operation }.count }
    }

    private func begin(_ operation: String) throws(BerthError) {
        let failure = state.withLock { state -> BerthError? in
            state.calls.append(operation)
            return state.failures.removeValue(forKey: operation)
        }
        if let failure { throw failure }
    }

    func start(networks: [FirewallNetwork], published: [String: [PortMapping]], guarded: [GuardedEndpoint]) throws(BerthError) {
        try begin("start")
        state.withLock { state in
            state.started = true
            state.guarded = Dictionary(guarded.map { ($0.port, $0) }, uniquingKeysWith: { $1 })
            state.networks = Dictionary(networks.map { ($0.bridge, $0) }, uniquingKeysWith: { $1 })
            state.published = published
        }
    }

    func stop(removeRules: Bool) { state.withLock { $0.calls.append("stop") } }

    func addNetwork(_ network: FirewallNetwork) async throws(BerthError) {
        try begin("addNetwork")
        await Task.yield()
        state.withLock { $0.networks[network.bridge] = network }
    }

    func removeNetwork(bridge: String) async throws(BerthError) {
        try begin("removeNetwork")
        state.withLock { _ = $0.networks.removeValue(forKey: bridge) }
    }

    func updateRemoteContainers(adding: [IPv4Address], removing: [IPv4Address]) async throws(BerthError) {
        try begin("updateRemoteContainers")
    }

    func publish(container: String, requests: [PortRequest], ipv4: IPv4Address?, ipv6: IPv6Address?) async throws(BerthError) -> [PortMapping] {
        try begin("publish")
        await Task.yield()
        return try state.withLock { state throws(BerthError) in
            var taken = Set(state.published.values.flatMap { $0.map(\.hostPort) })
            var mappings: [PortMapping] = []
            for request in requests {
                guard let ipv4 else { break }
                let wanted = request.hostPorts ?? 49153...65535
                guard let port = wanted.first(where: { !taken.contains($0) }) else {
                    throw BerthError.conflict("port \(wanted.lowerBound) is already allocated")
                }
                taken.insert(port)
                mappings.append(PortMapping(hostIP: request.hostIP, hostPort: port, transport: request.transport,
                                            containerIP: .v4(ipv4), containerPort: request.containerPort))
            }
            state.published[container] = mappings
            return mappings
        }
    }

    func unpublish(container: String) async {
        state.withLock { state in
            state.calls.append("unpublish")
            state.published[container] = nil
        }
    }

    func unpublishInBackground(container: String) {
        state.withLock { state in
            state.calls.append("unpublishInBackground")
            state.published[container] = nil
        }
    }

    func guardEndpoints(_ endpoints: [GuardedEndpoint], done: @escaping @Sendable (BerthError?) -> Void) {
        do throws(BerthError) {
            try begin("guardEndpoints")
            state.withLock { state in
                for endpoint in endpoints { state.guarded[endpoint.port] = endpoint }
            }
            done(nil)
        } catch {
            done(error)
        }
    }

    func unguardInBackground(ports: [String]) {
        state.withLock { state in
            state.calls.append("unguardInBackground")
            for port in ports { state.guarded[port] = nil }
        }
    }
}

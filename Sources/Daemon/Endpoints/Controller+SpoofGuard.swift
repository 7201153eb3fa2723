import BerthCore
import Firewall
import Synchronization

/// Anti-spoofing: which endpoints the firewall guards (see `SpoofGuard`), so that a
/// container sends only from its own MAC and addresses.
extension Controller {
    /// Bridge and overlay networks guard their endpoints unless made with
    /// `-o berth.network.enable_anti_spoofing=false`; the default bridge follows
    /// `berthd --anti-spoofing`. An overlay's ports are on a bridge in the overlay's own
    /// namespace: the firewall guards them there (see `NamespaceGuard`).
    func guardsEndpoints(_ network: NetworkRecord) -> Bool {
        guard network.driver == BridgeDriver.name || network.driver == OverlayDriver.name else { return false }
        if network.options[DriverOptions.defaultBridge] == "true" { return configuration.antiSpoofing }
        return DriverOptions.flag(network.options[DriverOptions.antiSpoofing]) != false
    }

    /// What the firewall checks the endpoint's frames against; nil when its network does
    /// not guard. The port is the endpoint's host end (a start may learn another: a spare's).
    func guardedEndpoint(_ endpoint: EndpointRecord) -> GuardedEndpoint? {
        guard let network = networks[endpoint.networkID], guardsEndpoints(network) else { return nil }
        let namespace = network.driver == OverlayDriver.name ? drivers.overlay.namespacePath(network) : nil
        return GuardedEndpoint(port: endpoint.hostInterface, mac: endpoint.mac, ipv4: endpoint.ipv4, ipv6: endpoint.ipv6,
                               namespace: namespace)
    }

    /// A network's options as inspect shows them: an overlay's VNI as Docker shows it, and
    /// the default bridge's anti-spoofing when `berthd --anti-spoofing=false` turned it off.
    func shownOptions(_ network: NetworkRecord) -> [String: String] {
        var options = network.options
        if let vni = network.vni { options[DriverOptions.vxlanID] = String(vni) }
        if network.options[DriverOptions.defaultBridge] == "true", !configuration.antiSpoofing {
            options[DriverOptions.antiSpoofing] = "false"
        }
        return options
    }

    /// The guarded endpoints of running containers (berthd start puts them back).
    func runningGuardedEndpoints() -> [GuardedEndpoint] {
        containers.values.filter(\.isRunning).flatMap { $0.endpoints.compactMap { guardedEndpoint($0) } }
    }
}

/// The guard job of a start or connect: sent to the firewall's thread as soon as the
/// ports are named (from the network worker's thread, for a start), so the firewall's
/// transaction runs while the worker configures the interfaces, and awaited before the
/// container's process is launched or the connect is done.
final class PendingGuard: Sendable {
    private enum Outcome {
        case notSent, pending, succeeded, failed(BerthError)
    }

    private struct State {
        var outcome = Outcome.notSent
        var ports: [String] = []
        var waiter: CheckedContinuation<Void, any Error>?
    }

    private let state = Mutex(State())
    private let firewall: any FirewallService
    /// Per interface in the spec's order; nil for an interface that is not guarded.
    private let identities: [GuardedEndpoint?]

    init(firewall: any FirewallService, identities: [GuardedEndpoint?]) {
        self.firewall = firewall
        self.identities = identities
    }

    /// What `createSandbox` calls with the host ends' names; nil when nothing is guarded.
    var onPortsNamed: (@Sendable ([String]) -> Void)? {
        guard identities.contains(where: { $0 != nil }) else { return nil }
        return { [self] names in self.send(names) }
    }

    /// Sends the guard for the interfaces' host ends, `names` in the spec's order.
    func send(_ names: [String]) {
        let endpoints = zip(identities, names).compactMap { identity, name -> GuardedEndpoint? in
            guard var endpoint = identity else { return nil }
            endpoint.port = name
            return endpoint
        }
        guard !endpoints.isEmpty else { return }
        state.withLock { state in
            state.outcome = .pending
            state.ports = endpoints.map(\.port)
        }
        firewall.guardEndpoints(endpoints) { [self] error in self.finish(error) }
    }

    private func finish(_ error: BerthError?) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.outcome = error.map { .failed($0) } ?? .succeeded
            defer { state.waiter = nil }
            return state.waiter
        }
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume() }
    }

    /// The guarded ports once the firewall has them (none if nothing was sent); throws the
    /// firewall's error. One caller at a time.
    func wait() async throws -> [String] {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let ready = state.withLock { state -> Result<Void, any Error>? in
                switch state.outcome {
                case .notSent, .succeeded: return .success(())
                case .failed(let error): return .failure(error)
                case .pending:
                    state.waiter = continuation
                    return nil
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
        return state.withLock { $0.ports }
    }

    /// After a failed sandbox or interface: forgets whatever the guard added.
    func withdraw() async {
        if let ports = try? await wait(), !ports.isEmpty { firewall.unguardInBackground(ports: ports) }
    }
}

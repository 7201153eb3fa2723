import BerthCore
import Firewall

/// berth's packet filtering as the controller uses it: networks' NAT and isolation,
/// published ports, overlay peers. `Firewall` (nftables) is the real one.
protocol FirewallService: AnyObject, Sendable {
    func start(networks: [FirewallNetwork], published: [String: [PortMapping]], guarded: [GuardedEndpoint]) throws(BerthError)
    func stop(removeRules: Bool)
    func addNetwork(_ network: FirewallNetwork) async throws(BerthError)
    func removeNetwork(bridge: String) async throws(BerthError)
    func updateRemoteContainers(adding: [IPv4Address], removing: [IPv4Address]) async throws(BerthError)
    func publish(container: String, requests: [PortRequest], ipv4: IPv4Address?, ipv6: IPv6Address?) async throws(BerthError) -> [PortMapping]
    func unpublish(container: String) async
    func unpublishInBackground(container: String)
    /// Anti-spoofing (see `SpoofGuard`): container ports whose frames must carry their
    /// endpoint's identity, added in one transaction, and forgotten without waiting.
    func guardEndpoints(_ endpoints: [GuardedEndpoint], done: @escaping @Sendable (BerthError?) -> Void)
    func unguardInBackground(ports: [String])
}

extension Firewall: FirewallService {}

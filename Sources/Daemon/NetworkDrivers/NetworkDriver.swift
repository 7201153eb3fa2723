import BerthCore
import DockerAPI
import Drivers
import Firewall

/// Where a network exists: on this host only, or on every node of the cluster (decided in
/// etcd). Docker's `Scope`, shown by inspect and matched by `network ls -f scope=`.
enum NetworkScope: String, Sendable {
    case local, global
}

/// A network driver: what a network's life needs from the kernel, asked by the controller
/// in order (libnetwork's driver model, netavark's validate → setup → rollback).
///
/// A driver is a Sendable value holding what it needs (worker, firewall, cluster store,
/// configuration) from construction and no controller state: the controller keeps the
/// records, reserves names and addresses inside its actor before its first `await`, and
/// calls the driver for the kernel's part. A step that fails undoes what it made itself,
/// and only that. Adding a driver: a type in this folder and one line in `DriverRegistry`.
protocol NetworkDriver: Sendable {
    /// The name `network create -d` takes; records keep it in `driver`.
    var name: String { get }
    var scope: NetworkScope { get }
    /// Whether containers join the network through an interface of their own. False for
    /// the predefined host and null networks, which stand for a container's mode.
    var connectsContainers: Bool { get }
    /// The container mode a predefined network stands for ("host" → `.host`); nil otherwise.
    var containerMode: NetworkMode? { get }

    /// Refuses a create request the driver cannot honour, before anything changes: a
    /// driver of which there is only one network, an option under the driver's namespaces
    /// that it does not know, a value it cannot read, a setting it does not support.
    func validate(_ request: NetworkCreateRequest) throws(BerthError)

    /// Fills in a new network's driver settings (device names, MTU) from its options.
    func configure(_ network: inout NetworkRecord) throws(BerthError)

    /// Makes a new network's kernel objects, its firewall network and its isolation rules.
    /// On failure it removes what this call made and throws.
    func create(_ network: NetworkRecord) async throws

    /// Daemon start, or a network the cluster already had: makes sure the network's
    /// devices exist (idempotent). `adopting` is true when the device name is not in the
    /// store yet, so an existing link must already be berth's. The firewall and the
    /// isolation rules are made whole for all networks at start, not here.
    func restore(_ network: NetworkRecord, adopting: Bool) async throws

    /// Removes the network's rules and devices. Every step runs even after one failed;
    /// each failure is logged with the network's name, and one error names them all.
    func delete(_ network: NetworkRecord) async throws(BerthError)

    /// What the firewall needs of the network; nil when it has no rules.
    func firewallNetwork(_ network: NetworkRecord) -> FirewallNetwork?
    /// What the policy routing layer needs of the network; nil when it has no rules.
    func isolatedNetwork(_ network: NetworkRecord) -> IsolatedNetwork?

    /// What a container's interface on the network needs; pure, on the start's hot path.
    func interfaceSpec(_ endpoint: EndpointRecord, on network: NetworkRecord, defaultRoute: Bool,
                       defaultRoute6: Bool) throws(BerthError) -> InterfaceSpec

    /// Whether `claim` and `release` do anything: asked first, so a start on networks that
    /// need no claim does not suspend for one.
    var claimsAddresses: Bool { get }
    /// Confirms an address the local pool picked with whoever else hands addresses out on
    /// this network (overlay: etcd). False: another node holds it, the caller tries another.
    func claim(_ endpoint: EndpointRecord, of container: ContainerRecord) async throws -> Bool
    /// Gives claimed addresses back, in the background; the caller does not wait.
    func release(_ endpoints: [EndpointRecord], of container: ContainerRecord)

    /// Disconnect: removes one endpoint's interface from a running container. `done` runs
    /// once it is gone; its address may only be reused from then on.
    func leave(_ endpoint: EndpointRecord, done: @escaping @Sendable () -> Void) async

    /// Daemon start: removes this driver's kernel objects that none of `networks` owns.
    func removeLeftovers(keeping networks: [NetworkRecord]) async
}

/// Defaults for drivers without kernel objects or without a cluster.
extension NetworkDriver {
    var scope: NetworkScope { .local }
    var containerMode: NetworkMode? { nil }
    func configure(_ network: inout NetworkRecord) throws(BerthError) {}
    func restore(_ network: NetworkRecord, adopting: Bool) async throws {}
    func firewallNetwork(_ network: NetworkRecord) -> FirewallNetwork? { nil }
    func isolatedNetwork(_ network: NetworkRecord) -> IsolatedNetwork? { nil }
    var claimsAddresses: Bool { false }
    func claim(_ endpoint: EndpointRecord, of container: ContainerRecord) async throws -> Bool { true }
    func release(_ endpoints: [EndpointRecord], of container: ContainerRecord) {}
    func removeLeftovers(keeping networks: [NetworkRecord]) async {}
}

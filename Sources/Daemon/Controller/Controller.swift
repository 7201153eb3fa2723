import BerthCore
import Cluster
import DNS
import Drivers
import DockerAPI
import Firewall
import Foundation
import IPAM
import Logging
import Store

/// Orchestrates every change to berth's objects. The state lives in small collaborators
/// (`NetworkTable`, `ContainerTable`, `TeardownTracker`, `ExitWaiters`, `DriverRegistry`);
/// the kernel, nftables and runc are reached through the seams in Services/.
///
/// Changes follow validate → reserve → apply → commit: input is checked, and names,
/// addresses and a container's passing state (starting, stopping, removing) are taken
/// synchronously inside the actor before the first `await`, so its reentrancy never lets
/// two requests take the same name or address or act on one container at once. The apply
/// steps run through `Steps.run`: a failure undoes the completed ones in reverse.
actor Controller {
    let configuration: DaemonConfiguration
    let store: any KeyValueStore
    let worker: any LinkService
    let firewall: any FirewallService
    let runtime: any RuntimeService
    let logger: Logger
    let daemonID: String
    /// The embedded DNS server (nil when disabled).
    let dns: DNSServer?
    var dnsListening: Set<IPAddress> = []
    /// What the DNS server was last given; starts add to it in place.
    var dnsRecords = DNSRecords()

    var networks = NetworkTable()
    var containers = ContainerTable()
    var exitWaiters = ExitWaiters()
    /// `exec` instances by ID.
    var execs: [String: ExecRecord] = [:]
    /// Containers' output capture, attached clients and stdin.
    let stdio = StdioTable()
    var networkTimings = NetworkTimings()
    var teardowns = TeardownTracker()
    /// Restarts by policy waiting for their delay (Containers/Controller+Restart).
    var restarts = RestartSchedule()

    /// Cluster mode (`--cluster-store`): etcd, and what this node knows of the others.
    let cluster: ClusterStore?
    /// Containers of other nodes on overlay networks, by their etcd key.
    var remoteEndpoints: [String: ClusterEndpoint] = [:]
    var clusterFollower: Task<Void, Never>?
    /// Process exits and finished teardowns, posted from other threads (Controller+Events).
    let events: AsyncStream<ControllerEvent>
    let eventSink: AsyncStream<ControllerEvent>.Continuation
    var eventHandler: Task<Void, Never>?
    /// The network drivers by name (NetworkDrivers/).
    var drivers: DriverRegistry
    /// The Docker events clients read from `GET /events` (Events/).
    nonisolated let eventLog = EventLog()

    init(configuration: DaemonConfiguration, store: any KeyValueStore, worker: any LinkService, firewall: any FirewallService,
         runtime: any RuntimeService, logger: Logger, daemonID: String, dns: DNSServer?, cluster: ClusterStore? = nil) {
        self.configuration = configuration
        self.store = store
        self.worker = worker
        self.firewall = firewall
        self.runtime = runtime
        self.logger = logger
        self.daemonID = daemonID
        self.dns = dns
        self.cluster = cluster
        (events, eventSink) = AsyncStream.makeStream(of: ControllerEvent.self)
        drivers = DriverRegistry(configuration: configuration, worker: worker, firewall: firewall, cluster: cluster, logger: logger)
    }

    // MARK: persistence

    func save(_ network: NetworkRecord) throws(BerthError) {
        try store.put(network.storeKey, try encode(network))
        networks[network.id] = network
    }

    func save(_ container: ContainerRecord) throws(BerthError) {
        try store.put(container.storeKey, try encode(container))
        exitWaiters.recorded(container.id)
        remember(container)
    }

    func remember(_ container: ContainerRecord) {
        containers.insert(container)
    }

    func forget(containerID id: String) {
        containers.remove(id: id)
        stdio.forget(id)
    }

    func encode<T: Encodable>(_ value: T) throws(BerthError) -> [UInt8] {
        do { return Array(try JSONEncoder().encode(value)) } catch {
            throw BerthError(.internal, "cannot encode \(T.self)", cause: error)
        }
    }

    nonisolated func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws(BerthError) -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
            throw BerthError(.internal, "corrupt \(T.self) in the store", cause: error)
        }
    }

    // MARK: lookups

    /// Docker's resolution order: full ID, exact name, then unique ID prefix.
    func network(_ reference: String) throws(BerthError) -> NetworkRecord {
        try networks.lookup(reference)
    }

    func container(_ reference: String) throws(BerthError) -> ContainerRecord {
        try containers.lookup(reference)
    }

    func isNameTaken(_ name: String) -> Bool {
        containers.named(name) != nil
    }

    /// RFC 3339 with fractional seconds, as Docker writes times; a value type, so one is shared.
    static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func timestamp(_ date: Date = Date()) -> String {
        timeFormat.format(date)
    }

    // MARK: statistics

    struct Timings: Codable, Sendable {
        var attachMicroseconds: [Int64]
        var detachMicroseconds: [Int64]
        var teardownMicroseconds: [Int64]
    }

    func timings(reset: Bool) -> Timings {
        let result = Timings(attachMicroseconds: networkTimings.attach.values, detachMicroseconds: networkTimings.detach.values,
                             teardownMicroseconds: networkTimings.teardown.values)
        if reset { networkTimings = NetworkTimings() }
        return result
    }
}

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

/// Owns berth's objects (networks, containers, their endpoints) and every change to them.
///
/// Changes follow validate → reserve → apply → commit: input is checked and names and
/// addresses are reserved synchronously inside the actor before the first `await`, so
/// the actor's reentrancy never lets two requests take the same name or address; a failed
/// apply step rolls back what it did and releases the reservation.
actor Controller {
    let configuration: DaemonConfiguration
    let store: any KeyValueStore
    let worker: NetworkWorker
    let firewall: Firewall
    let runtime: Runtime
    let logger: Logger
    let daemonID: String
    /// The embedded DNS server (nil when disabled).
    let dns: DNSServer?
    var dnsListening: Set<IPAddress> = []
    /// What the DNS server was last given; starts add to it in place.
    var dnsRecords = DNSRecords()

    var networks: [String: NetworkRecord] = [:]
    var allocators: [String: IPv4AddressAllocator] = [:]
    var allocators6: [String: IPv6AddressAllocator] = [:]
    var containers: [String: ContainerRecord] = [:]
    /// Indexes over `containers`, kept by `remember`/`forget`, so that a lookup by name
    /// and a start do not scan every container.
    var containerIDsByName: [String: String] = [:]
    /// Containers with `--link`s: the only ones a start may have to update.
    var linkingContainers: Set<String> = []
    /// Names reserved by creates still in flight, so two creates cannot take one name.
    var pendingNames: Set<String> = []
    /// Callers of `wait` per container.
    var exitWaiters: [String: [CheckedContinuation<Int32, Never>]] = [:]
    /// Containers whose start is in progress (a second start or a stop must not race it).
    var transitioning: Set<String> = []
    /// Containers whose exit is being processed (teardown in progress).
    var exiting: Set<String> = []
    /// Exits the store could not record (a full or read-only root): `stop` reports them.
    var unrecordedExits: [String: BerthError] = [:]
    /// `exec` instances by ID.
    var execs: [String: ExecRecord] = [:]
    /// Durations of the network part of recent container starts, for bench/.
    var attachTimings = TimingWindow(capacity: 4096)
    /// What a stop or disconnect waits for of the network teardown (the rest runs in the
    /// background), and how long the background part took until the addresses were free.
    var detachTimings = TimingWindow(capacity: 4096)
    var teardownTimings = TimingWindow(capacity: 4096)
    /// Background teardowns in progress per network, and in all.
    var teardownsInFlight: [String: Int] = [:]
    var teardownCount = 0
    /// Per container, interface names (eth1...) whose deletion is still under way.
    var interfacesInTeardown: [String: Set<String>] = [:]

    /// Cluster mode (`--cluster-store`): etcd, and what this node knows of the others.
    let cluster: ClusterStore?
    /// Containers of other nodes on overlay networks, by their etcd key.
    var remoteEndpoints: [String: ClusterEndpoint] = [:]
    var clusterFollower: Task<Void, Never>?
    /// The network drivers by name (NetworkDrivers/).
    var drivers: DriverRegistry

    init(configuration: DaemonConfiguration, store: any KeyValueStore, worker: NetworkWorker, firewall: Firewall,
         runtime: Runtime, logger: Logger, daemonID: String, dns: DNSServer?, cluster: ClusterStore? = nil) {
        self.configuration = configuration
        self.store = store
        self.worker = worker
        self.firewall = firewall
        self.runtime = runtime
        self.logger = logger
        self.daemonID = daemonID
        self.dns = dns
        self.cluster = cluster
        drivers = DriverRegistry(configuration: configuration, worker: worker, firewall: firewall, cluster: cluster, logger: logger)
    }

    // MARK: persistence

    func save(_ network: NetworkRecord) throws(BerthError) {
        try store.put(network.storeKey, try encode(network))
        networks[network.id] = network
    }

    func save(_ container: ContainerRecord) throws(BerthError) {
        try store.put(container.storeKey, try encode(container))
        unrecordedExits[container.id] = nil
        remember(container)
    }

    func remember(_ container: ContainerRecord) {
        if let old = containers.updateValue(container, forKey: container.id), old.name != container.name,
           containerIDsByName[old.name] == old.id {
            containerIDsByName[old.name] = nil
        }
        containerIDsByName[container.name] = container.id
        if container.attachments.contains(where: { !$0.links.isEmpty }) {
            linkingContainers.insert(container.id)
        } else {
            linkingContainers.remove(container.id)
        }
    }

    func forget(containerID id: String) {
        guard let old = containers.removeValue(forKey: id) else { return }
        if containerIDsByName[old.name] == id { containerIDsByName[old.name] = nil }
        linkingContainers.remove(id)
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
        if let network = networks[reference] { return network }
        if let network = networks.values.first(where: { $0.name == reference }) { return network }
        let matches = networks.values.filter { $0.id.hasPrefix(reference) }
        if matches.count == 1, let match = matches.first, !reference.isEmpty { return match }
        if matches.count > 1 { throw .invalid("network \(reference) is ambiguous (\(matches.count) matches found)") }
        throw .notFound("network \(reference) not found")
    }

    func container(_ reference: String) throws(BerthError) -> ContainerRecord {
        let reference = reference.hasPrefix("/") ? String(reference.dropFirst()) : reference
        if let container = containers[reference] { return container }
        if let id = containerIDsByName[reference], let container = containers[id] { return container }
        let matches = reference.isEmpty ? [] : containers.values.filter { $0.id.hasPrefix(reference) }
        if matches.count == 1, let match = matches.first { return match }
        if matches.count > 1 { throw .invalid("multiple containers found with provided prefix: \(reference)") }
        throw .notFound("No such container: \(reference)")
    }

    func isNameTaken(_ name: String) -> Bool {
        pendingNames.contains(name) || containerIDsByName[name] != nil
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
        let result = Timings(attachMicroseconds: attachTimings.values, detachMicroseconds: detachTimings.values,
                             teardownMicroseconds: teardownTimings.values)
        if reset {
            attachTimings = TimingWindow(capacity: 4096)
            detachTimings = TimingWindow(capacity: 4096)
            teardownTimings = TimingWindow(capacity: 4096)
        }
        return result
    }
}

/// The last N durations of an operation, in microseconds.
struct TimingWindow: Sendable {
    private(set) var values: [Int64] = []
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    mutating func record(_ duration: Duration) {
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        if values.count == capacity { values.removeFirst(values.count / 2) }
        values.append(micros)
    }
}

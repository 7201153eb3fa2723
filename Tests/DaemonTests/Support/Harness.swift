import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Logging
import Store
import Testing

/// A controller over fakes, in a temporary directory of its own (root, exec-root, the
/// store), started the way `BerthDaemon.run` starts it: directories, store, controller,
/// `bootstrap()`. Nothing here needs root.
final class Harness: Sendable {
    let directory: String
    let configuration: DaemonConfiguration
    let store: FaultyStore
    let kernel: FakeKernel
    let firewall: FakeFirewall
    let runtime: FakeRuntime
    let controller: Controller

    /// A fresh daemon, or one restarted over `previous`'s store, kernel and runc state.
    init(restarting previous: Harness? = nil, recovery: StateRecovery = .refuse, prepare: (FakeKernel) -> Void = { _ in }) async throws {
        if let previous {
            directory = previous.directory
            store = previous.store
            kernel = previous.kernel
            runtime = previous.runtime
        } else {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-daemon-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            store = try FaultyStore(path: directory + "/berth.db")
            kernel = FakeKernel()
            runtime = FakeRuntime(rootfs: directory + "/image-rootfs")
        }
        firewall = FakeFirewall()
        prepare(kernel)
        var configuration = DaemonConfiguration(
            root: directory + "/root", execRoot: directory + "/exec", socketPath: directory + "/berth.sock",
            resolvConfPath: directory + "/resolv.conf", hostsPath: directory + "/hosts", spareNamespaces: 0)
        configuration.stateRecovery = recovery
        self.configuration = configuration
        for path in [configuration.root, configuration.imagesDir, configuration.containersDir, configuration.execRoot,
                     configuration.netnsDir, configuration.overlaysDir, configuration.runcRoot] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        try "nameserver 192.0.2.53\n".write(toFile: configuration.resolvConfPath, atomically: true, encoding: .utf8)
        controller = Controller(configuration: configuration, store: store, worker: kernel, firewall: firewall,
                                runtime: runtime, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                                daemonID: "test-daemon", dns: nil, cluster: nil)
        try await controller.bootstrap()
    }

    func removeDirectory() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: requests as the API layer makes them

    @discardableResult
    func network(_ name: String, subnet: String? = nil, gateway: String? = nil, ipRange: String? = nil,
                 isInternal: Bool? = nil, options: [String: String]? = nil) async throws -> NetworkRecord {
        let pools = subnet.map { [IPAMSettings.Pool(Subnet: $0, IPRange: ipRange, Gateway: gateway)] } ?? []
        return try await controller.createNetwork(NetworkCreateRequest(
            Name: name, Driver: "bridge", Internal: isInternal, IPAM: IPAMSettings(Config: pools), Options: options))
    }

    @discardableResult
    func create(_ name: String? = nil, network: String? = nil, ip: String? = nil, mac: String? = nil,
                links: [String]? = nil, ports: [String: [PortBinding]]? = nil, autoRemove: Bool? = nil,
                extraNetworks: [String: EndpointSettings] = [:], image: String = "busybox") async throws -> String {
        var endpoints = extraNetworks
        if let network, ip != nil || mac != nil {
            endpoints[network] = EndpointSettings(IPAMConfig: .init(IPv4Address: ip), MacAddress: mac)
        }
        let request = ContainerCreateRequest(
            config: ContainerConfig(Cmd: ["sleep", "600"], Image: image),
            HostConfig: HostConfig(NetworkMode: network, Links: links, AutoRemove: autoRemove, PortBindings: ports),
            NetworkingConfig: endpoints.isEmpty ? nil : .init(EndpointsConfig: endpoints))
        return try await controller.createContainer(request, name: name).id
    }

    @discardableResult
    func run(_ name: String? = nil, network: String? = nil, ip: String? = nil,
             ports: [String: [PortBinding]]? = nil) async throws -> String {
        let id = try await create(name, network: network, ip: ip, ports: ports)
        try await controller.startContainer(id)
        return id
    }

    func inspect(_ reference: String) async throws -> ContainerInspect {
        try await controller.inspect(reference)
    }

    func status(_ reference: String) async throws -> String {
        try await inspect(reference).State.Status
    }

    /// The container's IPv4 address on `network` (its only one when nil).
    func address(_ reference: String, on network: String? = nil) async throws -> String? {
        let settings = try await inspect(reference).NetworkSettings.Networks
        if let network { return settings[network]?.IPAddress.flatMap { $0.isEmpty ? nil : $0 } }
        return settings.values.first?.IPAddress.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The container's process exits, and the controller has processed it.
    func exit(_ reference: String, code: Int32 = 0) async throws {
        let id = try await inspect(reference).Id
        runtime.exit(id, code: code)
        _ = try await controller.waitForExit(id)
    }

    func storedContainers() throws -> [String] {
        try store.list(prefix: StoreKeys.containerPrefix).map(\.key)
    }

    func storedNetworks() throws -> [String] {
        try store.list(prefix: StoreKeys.networkPrefix).map(\.key)
    }
}

/// Runs `body` with a fresh daemon and removes its directory afterwards.
func withDaemon(_ body: (Harness) async throws -> Void) async throws {
    try await withDaemon(prepare: { _ in }, body)
}

/// The same, with the kernel set up by `prepare` before the daemon starts.
func withDaemon(prepare: (FakeKernel) -> Void, _ body: (Harness) async throws -> Void) async throws {
    let harness = try await Harness(prepare: prepare)
    defer { harness.removeDirectory() }
    try await body(harness)
}

/// The error's code, or nil when `body` did not throw a BerthError.
func errorCode(_ body: () async throws -> Void) async -> ErrorCode? {
    do {
        try await body()
        return nil
    } catch let error as BerthError {
        return error.code
    } catch {
        return nil
    }
}

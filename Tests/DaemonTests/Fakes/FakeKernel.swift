import BerthCore
@testable import Daemon
import Drivers
import Foundation
import IPAM
import Synchronization

/// The kernel's links as `NetworkWorker` would leave them: bridges, sandboxes (a plain
/// file at the namespace path, as the real one binds a file there), veth host ends and
/// isolation rules. Any operation can be made to fail once; every call is recorded.
/// Background teardowns can be held so a test decides when the kernel is done.
final class FakeKernel: LinkService {
    struct State: Sendable {
        var bridges: [String: BridgeSpec] = [:]
        /// Namespace path → interfaces inside it.
        var sandboxes: [String: [InterfaceSpec]] = [:]
        /// Host end of each veth → the bridge it is plugged into.
        var hostPorts: [String: String] = [:]
        var isolated: [String: IsolatedNetwork] = [:]
        var calls: [String] = []
        var failures: [String: BerthError] = [:]
        /// Run inside the next call of an operation, between its start and its effect (a
        /// test's way to make something happen while a start or connect is under way).
        var during: [String: @Sendable () async -> Void] = [:]
        var holdTeardowns = false
        var heldTeardowns: [@Sendable () -> Void] = []
        var hostPrefixes: [PrefixInUse] = []
        var deletedLinks: [String] = []
        var bridgePortQueries: [[String]] = []
    }

    let state = Mutex(State())

    // MARK: what tests use

    /// The next call of `operation` (a method's base name, e.g. "createSandbox") throws.
    func fail(_ operation: String, with error: BerthError = BerthError(.kernel, "injected failure")) {
        state.withLock { $0.failures[operation] = error }
    }

    var snapshot: State { state.withLock { $0 } }

    func calls(_ operation: String) -> Int {
        state.withLock { $0.calls.filter { $0 == operation }.count }
    }

    /// `action` runs inside the next call of `operation` ("attach", "createSandbox").
    func duringNext(_ operation: String, _ action: @escaping @Sendable () async -> Void) {
        state.withLock { $0.during[operation] = action }
    }

    private func runHook(_ operation: String) async {
        if let action = state.withLock({ $0.during.removeValue(forKey: operation) }) { await action() }
    }

    /// Teardowns started from now on wait for `completeTeardowns`.
    func holdTeardowns() { state.withLock { $0.holdTeardowns = true } }

    /// Finishes every held teardown (and stops holding).
    func completeTeardowns() {
        let held = state.withLock { state in
            state.holdTeardowns = false
            defer { state.heldTeardowns = [] }
            return state.heldTeardowns
        }
        for finish in held { finish() }
    }

    func addHostPrefix(_ prefix: IPv4Network, owner: String = "eth0") {
        state.withLock { $0.hostPrefixes.append(PrefixInUse(prefix: .v4(prefix), kind: "address", owner: owner)) }
    }

    /// A veth on `bridge` that no record knows (a crash between kernel and store).
    func addStrayPort(_ name: String, on bridge: String) {
        state.withLock { $0.hostPorts[name] = bridge }
    }

    /// Every address given to a container interface, with the interface.
    var containerAddresses: [IPv4Address] {
        state.withLock { $0.sandboxes.values.flatMap { $0.map(\.address.address) } }
    }

    private func begin(_ operation: String) throws(BerthError) {
        let failure = state.withLock { state -> BerthError? in
            state.calls.append(operation)
            return state.failures.removeValue(forKey: operation)
        }
        if let failure { throw failure }
    }

    private func record(_ operation: String) { state.withLock { $0.calls.append(operation) } }

    /// Lets other tasks run, as a hop to the namespace thread would.
    private func hop() async { await Task.yield() }

    // MARK: bridges

    func ensureBridge(_ spec: BridgeSpec, claim: BridgeClaim) async throws -> Bool {
        try begin("ensureBridge")
        await hop()
        return state.withLock { state in
            let created = state.bridges[spec.name] == nil
            state.bridges[spec.name] = spec
            return created
        }
    }

    func removeBridge(name: String) async throws {
        try begin("removeBridge")
        await hop()
        state.withLock { _ = $0.bridges.removeValue(forKey: name) }
    }

    func hostNetworks(excludingBridges bridges: [String]) async throws -> [IPv4Network] {
        try begin("hostNetworks")
        return state.withLock { $0.hostPrefixes.compactMap { if case .v4(let p) = $0.prefix { p } else { nil } } }
    }

    func prefixesInUse(excludingBridges bridges: [String]) async throws -> [PrefixInUse] {
        try begin("prefixesInUse")
        await hop()
        return state.withLock { $0.hostPrefixes }
    }

    func bridgePorts(bridges: [String]) async throws -> [String] {
        try begin("bridgePorts")
        return state.withLock { state in
            state.bridgePortQueries.append(bridges)
            return state.hostPorts.filter { bridges.contains($0.value) }.map(\.key).sorted()
        }
    }

    func deleteLinks(_ names: [String]) async {
        record("deleteLinks")
        state.withLock { state in
            for name in names { state.hostPorts[name] = nil }
            state.deletedLinks += names
        }
    }

    // MARK: sandboxes

    func createSandbox(_ spec: SandboxSpec, portsNamed: (@Sendable ([String]) -> Void)?) async throws -> Sandbox {
        try begin("createSandbox")
        if !spec.interfaces.isEmpty { portsNamed?(spec.interfaces.map(\.hostName)) }
        await hop()
        await runHook("createSandbox")
        try state.withLock { state throws(BerthError) in
            guard state.sandboxes[spec.path] == nil else { throw BerthError(.kernel, "\(spec.path) exists") }
            for interface in spec.interfaces {
                guard state.bridges[interface.bridgeName] != nil else { throw BerthError(.kernel, "no bridge \(interface.bridgeName)") }
                guard state.hostPorts[interface.hostName] == nil else { throw BerthError(.kernel, "\(interface.hostName) exists") }
            }
            for interface in spec.interfaces { state.hostPorts[interface.hostName] = interface.bridgeName }
            state.sandboxes[spec.path] = spec.interfaces
        }
        _ = FileManager.default.createFile(atPath: spec.path, contents: nil)
        return Sandbox(path: spec.path, hostInterfaces: spec.interfaces.map(\.hostName))
    }

    func destroySandbox(path: String, hostInterfaces: [String]) async {
        record("destroySandbox")
        await hop()
        state.withLock { state in
            for name in hostInterfaces { state.hostPorts[name] = nil }
            state.sandboxes[path] = nil
        }
        unlink(path)
    }

    func releaseSandbox(path: String, hostInterfaces: [String], done: @escaping @Sendable () -> Void) {
        record("releaseSandbox")
        // The namespace file goes at once; the veths (and so the addresses) when the kernel is done.
        state.withLock { $0.sandboxes[path] = nil }
        unlink(path)
        finish(done) { state in for name in hostInterfaces { state.hostPorts[name] = nil } }
    }

    func attach(sandboxPath: String, interface: InterfaceSpec) async throws {
        try begin("attach")
        await hop()
        await runHook("attach")
        try state.withLock { state throws(BerthError) in
            guard state.sandboxes[sandboxPath] != nil else { throw BerthError(.kernel, "no sandbox \(sandboxPath)") }
            guard state.bridges[interface.bridgeName] != nil else { throw BerthError(.kernel, "no bridge \(interface.bridgeName)") }
            // As the kernel: one name per namespace, also while the old link is being deleted.
            guard !(state.sandboxes[sandboxPath] ?? []).contains(where: { $0.containerName == interface.containerName }) else {
                throw BerthError(.kernel, "\(interface.containerName) exists in \(sandboxPath)")
            }
            state.sandboxes[sandboxPath]?.append(interface)
            state.hostPorts[interface.hostName] = interface.bridgeName
        }
    }

    func detach(hostInterface: String) async throws {
        try begin("detach")
        state.withLock { Self.removeInterface(hostInterface, from: &$0) }
    }

    func releaseInterface(hostInterface: String, done: @escaping @Sendable () -> Void) {
        record("releaseInterface")
        finish(done) { Self.removeInterface(hostInterface, from: &$0) }
    }

    func keepSpareNamespaces(_ count: Int, in directory: String) { record("keepSpareNamespaces") }
    func dropSpareNamespaces() async { record("dropSpareNamespaces") }

    private static func removeInterface(_ hostName: String, from state: inout State) {
        state.hostPorts[hostName] = nil
        for path in state.sandboxes.keys { state.sandboxes[path]?.removeAll { $0.hostName == hostName } }
    }

    /// Runs `change` and `done` now, or when the test completes held teardowns.
    private func finish(_ done: @escaping @Sendable () -> Void, _ change: @escaping @Sendable (inout State) -> Void) {
        let run: @Sendable () -> Void = { [self] in
            state.withLock { change(&$0) }
            done()
        }
        let held = state.withLock { state -> Bool in
            if state.holdTeardowns { state.heldTeardowns.append(run) }
            return state.holdTeardowns
        }
        if !held { run() }
    }

    // MARK: isolation

    func isolate(_ network: IsolatedNetwork, exemptMark: UInt32) async throws {
        try begin("isolate")
        state.withLock { $0.isolated[network.interface] = network }
    }

    func releaseIsolation(_ network: IsolatedNetwork, exemptMark: UInt32) async throws {
        try begin("releaseIsolation")
        state.withLock { _ = $0.isolated.removeValue(forKey: network.interface) }
    }

    func synchronizeIsolation(_ networks: [IsolatedNetwork], exemptMark: UInt32) async throws -> Int {
        try begin("synchronizeIsolation")
        return state.withLock { state in
            let stale = state.isolated.keys.filter { name in !networks.contains { $0.interface == name } }.count
            state.isolated = Dictionary(networks.map { ($0.interface, $0) }, uniquingKeysWith: { $1 })
            return stale
        }
    }

    func removeIsolation() async throws {
        try begin("removeIsolation")
        state.withLock { $0.isolated = [:] }
    }

    // MARK: overlays: cluster mode is not faked (cluster is nil in these tests)

    func underlay(for address: IPv4Address) async throws -> Underlay? { record("underlay"); return nil }
    func ipv4Address(ofInterface name: String) async throws -> IPv4Address? { record("ipv4Address"); return nil }
    func ensureOverlay(_ spec: OverlaySpec, underlayIndex: Int32?) async throws { try begin("ensureOverlay") }
    func removeOverlay(_ spec: OverlaySpec) async throws { try begin("removeOverlay") }
    func removeOverlayNamespaces(in directory: String, keeping: Set<String>) async { record("removeOverlayNamespaces") }
    func updateRemoteNeighbours(vxlan: String, adding: [RemoteNeighbour], removing: [RemoteNeighbour]) async throws {
        try begin("updateRemoteNeighbours")
    }
}

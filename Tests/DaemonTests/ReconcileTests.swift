import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// A daemon started over the state a previous one left: the store, the kernel's links
/// and runc's containers.
@Suite struct ReconcileTests {
    /// Two running containers on n1; `dead`'s process is gone by the time the daemon is back.
    private func previousDaemon() async throws -> (daemon: Harness, live: String, dead: String, bridge: String) {
        let daemon = try await Harness()
        let network = try await daemon.network("n1", subnet: "10.1.0.0/24")
        let live = try await daemon.run("live", network: "n1")
        let dead = try await daemon.run("dead", network: "n1")
        return (daemon, live, dead, try #require(network.bridgeName))
    }

    @Test func deadContainersAreMarkedExitedAndTheirSandboxesRemoved() async throws {
        let (first, live, dead, _) = try await previousDaemon()
        defer { first.removeDirectory() }
        let deadPath = first.configuration.netnsDir + "/" + dead
        let deadPorts = try #require(first.kernel.snapshot.sandboxes[deadPath]).map(\.hostName)
        first.runtime.setAlive(try #require(first.runtime.pid(of: dead)), false)

        let second = try await Harness(restarting: first)
        let state = try await second.inspect(dead).State
        #expect(state.Status == "exited")
        #expect(state.Pid == 0)
        let kernel = second.kernel.snapshot
        #expect(kernel.sandboxes[deadPath] == nil)
        #expect(deadPorts.allSatisfy { kernel.hostPorts[$0] == nil })
        #expect(!FileManager.default.fileExists(atPath: deadPath))
        #expect(second.runtime.snapshot.destroyed.contains { $0.id == dead })
        #expect(try await second.status(live) == "running")
    }

    @Test func aLiveContainerKeepsItsSandboxAddressAndPorts() async throws {
        let (first, live, _, _) = try await previousDaemon()
        defer { first.removeDirectory() }
        let livePath = first.configuration.netnsDir + "/" + live
        let before = try #require(first.kernel.snapshot.sandboxes[livePath])

        let second = try await Harness(restarting: first)
        #expect(try await second.status(live) == "running")
        #expect(second.kernel.snapshot.sandboxes[livePath]?.map(\.hostName) == before.map(\.hostName))
        #expect(FileManager.default.fileExists(atPath: livePath))
        // Its address is taken again in the new allocator: a new container gets another one.
        let other = try await second.run("other", network: "n1")
        #expect(try await second.address(other) == "10.1.0.4")
        // The exit watch is back too.
        try await second.exit(live, code: 1)
        #expect(try await second.status(live) == "exited")
    }

    @Test func aContainerWhoseNamespaceFileIsGoneIsTreatedAsDead() async throws {
        let (first, live, _, _) = try await previousDaemon()
        defer { first.removeDirectory() }
        unlink(first.configuration.netnsDir + "/" + live)
        let second = try await Harness(restarting: first)
        #expect(try await second.status(live) == "exited")
    }

    @Test func strayBerthPortsAreDeletedAndOwnedOnesKept() async throws {
        let (first, live, _, bridge) = try await previousDaemon()
        defer { first.removeDirectory() }
        first.kernel.addStrayPort("veth0abcdef", on: bridge)
        first.kernel.addStrayPort("vethforeign", on: "docker0")
        let livePorts = try #require(first.kernel.snapshot.sandboxes[first.configuration.netnsDir + "/" + live]).map(\.hostName)

        let second = try await Harness(restarting: first)
        let kernel = second.kernel.snapshot
        #expect(kernel.deletedLinks == ["veth0abcdef"])
        #expect(kernel.hostPorts["veth0abcdef"] == nil)
        #expect(livePorts.allSatisfy { kernel.hostPorts[$0] != nil })
        // Only berth's bridges are asked about: a port on someone else's bridge is not berth's.
        #expect(kernel.hostPorts["vethforeign"] != nil)
        #expect(kernel.bridgePortQueries.last.map { !$0.contains("docker0") } == true)
    }

    @Test func withUnrecordedRuncContainersUnownedPortsAreLeftUnderRecover() async throws {
        let (first, _, _, bridge) = try await previousDaemon()
        defer { first.removeDirectory() }
        first.kernel.addStrayPort("veth0abcdef", on: bridge)
        let unrecorded = String(repeating: "e", count: 64)
        first.runtime.state.withLock { _ = $0.runcContainers.insert(unrecorded) }

        let second = try await Harness(restarting: first, recovery: .recover)
        #expect(second.kernel.snapshot.hostPorts["veth0abcdef"] != nil)
        #expect(second.kernel.snapshot.deletedLinks.isEmpty)
        #expect(!second.runtime.snapshot.destroyed.contains { $0.id == unrecorded })
    }

    @Test func removeUnrecordedRemovesStrayPortsAndRuncContainers() async throws {
        let (first, _, _, bridge) = try await previousDaemon()
        defer { first.removeDirectory() }
        first.kernel.addStrayPort("veth0abcdef", on: bridge)
        let unrecorded = String(repeating: "e", count: 64)
        first.runtime.state.withLock { _ = $0.runcContainers.insert(unrecorded) }

        let second = try await Harness(restarting: first, recovery: .removeUnrecorded)
        #expect(second.kernel.snapshot.hostPorts["veth0abcdef"] == nil)
        #expect(second.runtime.snapshot.destroyed.contains { $0.id == unrecorded && $0.removingRoot })
        #expect(second.runtime.snapshot.signals.contains { $0.id == unrecorded && $0.signal == SIGKILL })
    }

    @Test func anAutoRemoveContainerThatDiedMeanwhileIsRemoved() async throws {
        let first = try await Harness()
        defer { first.removeDirectory() }
        let id = try await first.create("once", autoRemove: true)
        try await first.controller.startContainer(id)
        first.runtime.setAlive(try #require(first.runtime.pid(of: id)), false)

        let second = try await Harness(restarting: first)
        #expect(await errorCode { _ = try await second.inspect(id) } == .notFound)
        #expect(try second.storedContainers().isEmpty)
    }

    @Test func networksAndTheirRulesComeBackFromTheStore() async throws {
        let (first, _, _, bridge) = try await previousDaemon()
        defer { first.removeDirectory() }
        // A reboot: no bridges, no rules.
        first.kernel.state.withLock { $0.bridges = [:]; $0.isolated = [:] }

        let second = try await Harness(restarting: first)
        #expect(second.kernel.snapshot.bridges[bridge]?.gateway.description == "10.1.0.1/24")
        #expect(second.kernel.snapshot.isolated[bridge] != nil)
        #expect(second.firewall.snapshot.networks[bridge] != nil)
        #expect(await second.controller.listNetworks().count == 4)
    }
}

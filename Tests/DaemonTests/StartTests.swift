import BerthCore
@testable import Daemon
import DockerAPI
import Firewall
import Foundation
import Testing

/// start: what is allocated and handed to the kernel, firewall and runtime, and that a
/// failure at any step undoes every step before it.
@Suite struct StartTests {
    @Test func addressesAreAllocatedInOrder() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.1.0.0/24")
            var addresses: [String?] = []
            for name in ["a", "b", "c"] { addresses.append(try await daemon.address(try await daemon.run(name, network: "n1"))) }
            #expect(addresses == ["10.1.0.2", "10.1.0.3", "10.1.0.4"])
            #expect(Set(daemon.kernel.containerAddresses.map(\.description)) == ["10.1.0.2", "10.1.0.3", "10.1.0.4"])
        }
    }

    @Test func defaultBridgeContainerGetsItsAddressAndGateway() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            let settings = try await daemon.inspect(id).NetworkSettings
            #expect(settings.IPAddress == "172.17.0.2")
            #expect(settings.Gateway == "172.17.0.1")
            #expect(settings.SandboxKey == daemon.configuration.netnsDir + "/" + id)
            #expect(try await daemon.status(id) == "running")
        }
    }

    @Test func oneSandboxJobPerStartWithTheDefaultRouteOnTheFirstNetwork() async throws {
        try await withDaemon { daemon in
            let n1 = try await daemon.network("n1", subnet: "10.1.0.0/24")
            let n2 = try await daemon.network("n2", subnet: "10.2.0.0/24")
            let id = try await daemon.create("c1", network: "n1")
            try await daemon.controller.connect(network: "n2", container: id, settings: nil)
            #expect(daemon.kernel.calls("attach") == 0)  // stopped: nothing made yet
            try await daemon.controller.startContainer(id)
            #expect(daemon.kernel.calls("createSandbox") == 1)
            #expect(daemon.kernel.calls("attach") == 0)
            let interfaces = try #require(daemon.kernel.snapshot.sandboxes[daemon.configuration.netnsDir + "/" + id])
            #expect(interfaces.map(\.containerName) == ["eth0", "eth1"])
            #expect(interfaces.map(\.bridgeName) == [n1.bridgeName, n2.bridgeName])
            #expect(interfaces[0].gateway?.description == "10.1.0.1")
            #expect(interfaces[1].gateway == nil)
            #expect(interfaces.map(\.address.description) == ["10.1.0.2/24", "10.2.0.2/24"])
            // The runtime joins that namespace.
            #expect(daemon.runtime.snapshot.launches.last?.networkNamespace == daemon.configuration.netnsDir + "/" + id)
        }
    }

    @Test func startingARunningContainerDoesNothing() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            try await daemon.controller.startContainer(id)
            #expect(daemon.kernel.calls("createSandbox") == 1)
            #expect(daemon.runtime.snapshot.launches.count == 1)
        }
    }

    @Test func publishedPortsGoToTheFirewallWithTheContainerAddress() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.1.0.0/24")
            let id = try await daemon.run("web", network: "n1", ports: ["80/tcp": [PortBinding(HostIp: "", HostPort: "8080")]])
            let mappings = try #require(daemon.firewall.snapshot.published[id])
            #expect(mappings.count == 1)
            #expect(mappings.first?.hostPort == 8080)
            #expect(mappings.first?.containerPort == 80)
            #expect(mappings.first?.containerIP.description == "10.1.0.2")
            let ports = try await daemon.inspect(id).NetworkSettings.Ports["80/tcp"]
            #expect(ports??.first?.HostPort == "8080")
        }
    }

    @Test func internalNetworksPublishNothing() async throws {
        try await withDaemon { daemon in
            try await daemon.network("sealed", subnet: "10.1.0.0/24", isInternal: true)
            let id = try await daemon.run("c1", network: "sealed", ports: ["80/tcp": [PortBinding(HostIp: "", HostPort: "8080")]])
            #expect(daemon.firewall.calls("publish") == 0)
            #expect(daemon.firewall.snapshot.published[id] == nil)
            let interfaces = daemon.kernel.snapshot.sandboxes.values.first
            #expect(interfaces?.first?.gateway == nil)
        }
    }

    enum Step: String, CaseIterable, Sendable { case publish, sandbox, guardPorts, launch, save }

    @Test(arguments: Step.allCases)
    func failureAtAnyStepUndoesTheStepsBefore(_ step: Step) async throws {
        try await withDaemon { daemon in
            // A /30 has one address for containers: the retry below gets it only if it was freed.
            try await daemon.network("tiny", subnet: "10.9.0.0/30")
            let id = try await daemon.create("c1", network: "tiny", ports: ["80/tcp": [PortBinding(HostIp: "", HostPort: "8080")]])
            switch step {
            case .publish: daemon.firewall.fail("publish")
            case .sandbox: daemon.kernel.fail("createSandbox")
            case .guardPorts: daemon.firewall.fail("guardEndpoints")
            case .launch: daemon.runtime.fail("launch")
            case .save: daemon.store.failNextWrite(to: StoreKeys.container(id))
            }
            #expect(await errorCode { try await daemon.controller.startContainer(id) } != nil)

            let kernel = daemon.kernel.snapshot
            #expect(kernel.sandboxes.isEmpty)
            #expect(kernel.hostPorts.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: daemon.configuration.netnsDir + "/" + id))
            #expect(daemon.firewall.snapshot.published[id] ?? [] == [])
            #expect(daemon.firewall.snapshot.guarded.isEmpty)
            let runtime = daemon.runtime.snapshot
            if step == .save { #expect(runtime.destroyed.contains { $0.id == id && !$0.removingRoot }) }
            #expect(!runtime.runcContainers.contains(id))
            let state = try await daemon.inspect(id).State
            #expect(state.Status == "created")
            #expect(state.Error.contains("injected"))

            // Everything is free again: the same address and host port.
            try await daemon.controller.startContainer(id)
            #expect(try await daemon.address(id) == "10.9.0.2")
            #expect(daemon.firewall.snapshot.published[id]?.first?.hostPort == 8080)
            #expect(try await daemon.inspect(id).State.Error == "")
        }
    }

    @Test func failedRestartOfAnExitedContainerKeepsItExited() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            try await daemon.exit(id, code: 3)
            daemon.runtime.fail("launch")
            #expect(await errorCode { try await daemon.controller.startContainer(id) } != nil)
            let state = try await daemon.inspect(id).State
            #expect(state.Status == "exited")
            #expect(state.ExitCode == 3)
            #expect(state.Error.contains("injected"))
            #expect(daemon.kernel.snapshot.sandboxes.isEmpty)
        }
    }

    @Test func hostPortHeldByAnotherContainerRefusesTheStartCleanly() async throws {
        try await withDaemon { daemon in
            let ports = ["80/tcp": [PortBinding(HostIp: "", HostPort: "8080")]]
            try await daemon.run("a", ports: ports)
            let b = try await daemon.create("b", ports: ports)
            #expect(await errorCode { try await daemon.controller.startContainer(b) } == .conflict)
            #expect(daemon.kernel.snapshot.sandboxes.count == 1)
            #expect(try await daemon.status(b) == "created")
        }
    }
}

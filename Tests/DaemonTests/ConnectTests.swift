import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// network connect / disconnect on running and stopped containers.
@Suite struct ConnectTests {
    private func interfaces(_ daemon: Harness, _ id: String) -> [String] {
        (daemon.kernel.snapshot.sandboxes[daemon.configuration.netnsDir + "/" + id] ?? []).map(\.containerName).sorted()
    }

    @Test func connectingARunningContainerAddsEth1WithoutADefaultRoute() async throws {
        try await withDaemon { daemon in
            let n2 = try await daemon.network("n2", subnet: "10.2.0.0/24")
            let id = try await daemon.run("c1")
            try await daemon.controller.connect(network: "n2", container: id, settings: nil)
            #expect(daemon.kernel.calls("attach") == 1)
            let added = try #require(daemon.kernel.snapshot.sandboxes[daemon.configuration.netnsDir + "/" + id]?.last)
            #expect(added.containerName == "eth1")
            #expect(added.bridgeName == n2.bridgeName)
            #expect(added.address.description == "10.2.0.2/24")
            #expect(added.gateway == nil)
            #expect(try await daemon.address(id, on: "n2") == "10.2.0.2")
            #expect(try await daemon.address(id, on: "bridge") == "172.17.0.2")
        }
    }

    @Test func connectingAStoppedContainerTouchesNoKernelUntilStart() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n2", subnet: "10.2.0.0/24")
            let id = try await daemon.create("c1")
            try await daemon.controller.connect(network: "n2", container: id,
                                                 settings: EndpointSettings(IPAMConfig: .init(IPv4Address: "10.2.0.77")))
            #expect(daemon.kernel.snapshot.calls.filter { $0 == "attach" || $0 == "createSandbox" }.isEmpty)
            try await daemon.controller.startContainer(id)
            #expect(interfaces(daemon, id) == ["eth0", "eth1"])
            #expect(try await daemon.address(id, on: "n2") == "10.2.0.77")
        }
    }

    @Test func connectingTwiceIsAConflict() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n2", subnet: "10.2.0.0/24")
            let id = try await daemon.run("c1")
            try await daemon.controller.connect(network: "n2", container: id, settings: nil)
            #expect(await errorCode { try await daemon.controller.connect(network: "n2", container: id, settings: nil) } == .conflict)
            #expect(daemon.kernel.calls("attach") == 1)
        }
    }

    @Test func failedAttachUndoesTheAllocation() async throws {
        try await withDaemon { daemon in
            try await daemon.network("tiny", subnet: "10.9.0.0/30")
            let a = try await daemon.run("a")
            daemon.kernel.fail("attach")
            #expect(await errorCode { try await daemon.controller.connect(network: "tiny", container: a, settings: nil) } == .kernel)
            #expect(try await daemon.inspect(a).NetworkSettings.Networks["tiny"] == nil)
            // The only address of the /30 is free: another container takes it.
            let b = try await daemon.run("b", network: "tiny")
            #expect(try await daemon.address(b) == "10.9.0.2")
        }
    }

    @Test func failedSaveDetachesTheNewInterface() async throws {
        try await withDaemon { daemon in
            try await daemon.network("tiny", subnet: "10.9.0.0/30")
            let a = try await daemon.run("a")
            daemon.store.failNextWrite(to: StoreKeys.container(a))
            #expect(await errorCode { try await daemon.controller.connect(network: "tiny", container: a, settings: nil) } != nil)
            #expect(interfaces(daemon, a) == ["eth0"])
            #expect(daemon.kernel.calls("detach") == 1)
            try await daemon.controller.connect(network: "tiny", container: a, settings: nil)
            #expect(try await daemon.address(a, on: "tiny") == "10.9.0.2")
        }
    }

    @Test func disconnectHoldsTheAddressUntilTheKernelIsDone() async throws {
        try await withDaemon { daemon in
            try await daemon.network("tiny", subnet: "10.9.0.0/30")
            let a = try await daemon.run("a")
            try await daemon.controller.connect(network: "tiny", container: a, settings: nil)
            daemon.kernel.holdTeardowns()
            try await daemon.controller.disconnect(network: "tiny", container: a, force: false)
            #expect(try await daemon.inspect(a).NetworkSettings.Networks["tiny"] == nil)
            #expect(daemon.kernel.calls("releaseInterface") == 1)
            // The veth is still there, and so the address is taken: network remove must wait.
            #expect(interfaces(daemon, a) == ["eth0", "eth1"])
            daemon.kernel.completeTeardowns()
            #expect(await daemon.controller.waitForTeardowns(timeout: .seconds(5)))
            #expect(interfaces(daemon, a) == ["eth0"])
            let b = try await daemon.run("b", network: "tiny")
            #expect(try await daemon.address(b) == "10.9.0.2")
        }
    }

    @Test func interfaceNamesAreReusedOnlyOnceTheirTeardownIsDone() async throws {
        try await withDaemon { daemon in
            for (name, subnet) in [("n1", "10.1.0.0/24"), ("n2", "10.2.0.0/24"), ("n3", "10.3.0.0/24"), ("n4", "10.4.0.0/24")] {
                try await daemon.network(name, subnet: subnet)
            }
            let id = try await daemon.run("c1")
            try await daemon.controller.connect(network: "n1", container: id, settings: nil)
            try await daemon.controller.connect(network: "n2", container: id, settings: nil)
            #expect(interfaces(daemon, id) == ["eth0", "eth1", "eth2"])
            daemon.kernel.holdTeardowns()
            try await daemon.controller.disconnect(network: "n1", container: id, force: false)
            // eth1 is still being deleted: the next interface may not take its name.
            try await daemon.controller.connect(network: "n3", container: id, settings: nil)
            #expect(daemon.kernel.snapshot.sandboxes[daemon.configuration.netnsDir + "/" + id]?.last?.containerName == "eth3")
            daemon.kernel.completeTeardowns()
            #expect(await daemon.controller.waitForTeardowns(timeout: .seconds(5)))
            try await daemon.controller.connect(network: "n4", container: id, settings: nil)
            #expect(daemon.kernel.snapshot.sandboxes[daemon.configuration.netnsDir + "/" + id]?.last?.containerName == "eth1")
            #expect(interfaces(daemon, id) == ["eth0", "eth1", "eth2", "eth3"])
        }
    }

    @Test func disconnectingAStoppedContainerOnlyChangesItsRecord() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n2", subnet: "10.2.0.0/24")
            let id = try await daemon.create("c1")
            try await daemon.controller.connect(network: "n2", container: id, settings: nil)
            try await daemon.controller.disconnect(network: "n2", container: id, force: false)
            #expect(daemon.kernel.calls("releaseInterface") == 0)
            try await daemon.controller.startContainer(id)
            #expect(interfaces(daemon, id) == ["eth0"])
            #expect(await errorCode { try await daemon.controller.disconnect(network: "n2", container: id, force: false) } == .invalidArgument)
        }
    }

    @Test func hostModeContainersCannotBeConnected() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n2", subnet: "10.2.0.0/24")
            let id = try await daemon.create("c1", network: "host")
            #expect(await errorCode { try await daemon.controller.connect(network: "n2", container: id, settings: nil) } == .invalidArgument)
        }
    }
}

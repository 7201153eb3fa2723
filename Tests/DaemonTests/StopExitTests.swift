import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// stop, exit, wait, kill and rm.
@Suite struct StopExitTests {
    @Test func exitReleasesTheAddressOnlyAfterTheKernelsTeardown() async throws {
        try await withDaemon { daemon in
            try await daemon.network("tiny", subnet: "10.9.0.0/30")
            let a = try await daemon.run("a", network: "tiny")
            let hostEnd = try #require(daemon.kernel.snapshot.hostPorts.keys.first)
            daemon.kernel.holdTeardowns()
            try await daemon.exit(a, code: 0)
            #expect(try await daemon.status(a) == "exited")
            #expect(daemon.kernel.snapshot.hostPorts[hostEnd] != nil)  // the veth is still going
            let b = try await daemon.create("b", network: "tiny")
            // The start waits for the teardown holding the only address, and only for it.
            let start = Task { try await daemon.controller.startContainer(b) }
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await daemon.status(b) == "created")
            #expect(daemon.kernel.calls("createSandbox") == 1)
            daemon.kernel.completeTeardowns()
            try await start.value
            #expect(try await daemon.address(b) == "10.9.0.2")
            #expect(daemon.kernel.snapshot.hostPorts[hostEnd] == nil)
        }
    }

    @Test func exitTearsDownSandboxPortsAndRuntimeState() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("web", ports: ["80/tcp": [PortBinding(HostIp: "", HostPort: "8080")]])
            try await daemon.exit(id, code: 7)
            #expect(daemon.kernel.snapshot.sandboxes.isEmpty)
            #expect(daemon.kernel.snapshot.hostPorts.isEmpty)
            #expect(daemon.firewall.snapshot.published[id] == nil)
            #expect(daemon.runtime.snapshot.destroyed.contains { $0.id == id && !$0.removingRoot })
            let state = try await daemon.inspect(id).State
            #expect(state.Status == "exited")
            #expect(state.ExitCode == 7)
            #expect(state.Pid == 0)
        }
    }

    @Test func waitReturnsTheExitCode() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            let waiter = Task { try await daemon.controller.waitForExit(id) }
            try await Task.sleep(for: .milliseconds(20))
            daemon.runtime.exit(id, code: 42)
            #expect(try await waiter.value == 42)
            // A stopped container answers at once.
            #expect(try await daemon.controller.waitForExit(id) == 42)
        }
    }

    @Test func aStaleExitIsIgnored() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            let pid = try #require(daemon.runtime.pid(of: id))
            await daemon.controller.containerExited(id: id, pid: pid + 1, exitCode: 9)
            #expect(try await daemon.status(id) == "running")
            await daemon.controller.containerExited(id: id, pid: pid, exitCode: 9)
            #expect(try await daemon.inspect(id).State.ExitCode == 9)
        }
    }

    @Test func stopSendsSIGTERMAndReportsTheExit() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            #expect(try await daemon.controller.stopContainer(id, timeout: 5))
            #expect(daemon.runtime.snapshot.signals.map(\.signal) == [SIGTERM])
            let state = try await daemon.inspect(id).State
            #expect(state.Status == "exited")
            #expect(state.ExitCode == 128 + SIGTERM)
            // Stopping a stopped container is no error, and sends nothing.
            #expect(try await daemon.controller.stopContainer(id, timeout: 5) == false)
            #expect(daemon.runtime.snapshot.signals.count == 1)
        }
    }

    @Test func stopFallsBackToSIGKILL() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            daemon.runtime.state.withLock { $0.fatalSignals = [SIGKILL] }
            #expect(try await daemon.controller.stopContainer(id, timeout: 1))
            #expect(daemon.runtime.snapshot.signals.map(\.signal) == [SIGTERM, SIGKILL])
            #expect(try await daemon.inspect(id).State.ExitCode == 128 + SIGKILL)
        }
    }

    @Test func autoRemoveRemovesTheContainerWhenItExits() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.create("once", autoRemove: true)
            try await daemon.controller.startContainer(id)
            let waiter = Task { try await daemon.controller.waitForExit(id) }
            try await Task.sleep(for: .milliseconds(20))
            daemon.runtime.exit(id, code: 0)
            #expect(try await waiter.value == 0)
            #expect(await errorCode { _ = try await daemon.inspect(id) } == .notFound)
            #expect(try daemon.storedContainers().isEmpty)
            #expect(daemon.runtime.snapshot.destroyed.contains { $0.id == id && $0.removingRoot })
        }
    }

    @Test func removingARunningContainerNeedsForce() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            #expect(await errorCode { try await daemon.controller.removeContainer(id, force: false) } == .conflict)
            #expect(try await daemon.status(id) == "running")
            try await daemon.controller.removeContainer(id, force: true)
            #expect(daemon.runtime.snapshot.signals.map(\.signal) == [SIGKILL])
            #expect(try daemon.storedContainers().isEmpty)
            #expect(!FileManager.default.fileExists(atPath: daemon.configuration.containerDir(id)))
            #expect(daemon.kernel.snapshot.sandboxes.isEmpty)
            // The name is free again.
            try await daemon.create("c1")
        }
    }

    @Test func failedRemovalKeepsTheContainerListed() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.create("c1")
            daemon.store.failNextWrite(to: StoreKeys.container(id))
            #expect(await errorCode { try await daemon.controller.removeContainer(id, force: false) } == .internal)
            #expect(try await daemon.inspect("c1").Id == id)
            try await daemon.controller.removeContainer(id, force: false)
            #expect(await errorCode { _ = try await daemon.inspect("c1") } == .notFound)
        }
    }
}

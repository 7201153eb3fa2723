import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Synchronization
import Testing

/// The container lifecycle's passing states (starting, stopping, removing) keep
/// operations on one container from acting at once, without locks beside the record.
@Suite struct LifecycleTests {
    @Test func concurrentConnectsToDifferentNetworksGetDistinctInterfaces() async throws {
        try await withDaemon { daemon in
            for name in ["n1", "n2", "n3"] { try await daemon.network(name, subnet: "10.4\(name.suffix(1)).0.0/24") }
            let id = try await daemon.run("c1")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for name in ["n1", "n2", "n3"] {
                    group.addTask { try await daemon.controller.connect(network: name, container: id, settings: nil) }
                }
                try await group.waitForAll()
            }
            let names = (daemon.kernel.snapshot.sandboxes[daemon.configuration.netnsDir + "/" + id] ?? []).map(\.containerName)
            #expect(names.sorted() == ["eth0", "eth1", "eth2", "eth3"])
            let endpoints = try await daemon.inspect(id).NetworkSettings.Networks
            #expect(Set(endpoints.keys) == ["bridge", "n1", "n2", "n3"])
        }
    }

    @Test func theSameNetworkConnectedTwiceAtOnceHasOneWinner() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.41.0.0/24")
            let id = try await daemon.run("c1")
            let outcomes = await withTaskGroup(of: ErrorCode?.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        await errorCode { try await daemon.controller.connect(network: "n1", container: id, settings: nil) }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.contains(.conflict))
            #expect(daemon.kernel.calls("attach") == 1)
        }
    }

    /// The container exits while its interface is being made: the connect fails, its
    /// interface and address go, and nothing is recorded.
    @Test func anExitDuringAConnectUndoesIt() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.42.0.0/24")
            let id = try await daemon.run("c1")
            let runtime = daemon.runtime
            daemon.kernel.duringNext("attach") {
                runtime.exit(id, code: 3)
                for _ in 0..<50 { await Task.yield() }  // the exit is handled meanwhile
            }
            let code = await errorCode { try await daemon.controller.connect(network: "n1", container: id, settings: nil) }
            #expect(code != nil)
            #expect(try await daemon.controller.waitForExit(id) == 3)
            #expect(try await daemon.inspect(id).NetworkSettings.Networks["n1"] == nil)
            // The address it had taken (the first) is free again.
            let other = try await daemon.run("c2", network: "n1", ip: "10.42.0.2")
            #expect(try await daemon.address(other, on: "n1") == "10.42.0.2")
        }
    }

    @Test func aSecondStartWhileOneIsUnderWayIsRefusedAndRmToo() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.create("c1")
            let controller = daemon.controller
            let seen = Mutex<[ErrorCode?]>([])
            daemon.kernel.duringNext("createSandbox") {
                // The start is suspended in its sandbox step: the container is starting.
                let second = await errorCode { try await controller.startContainer(id) }
                let remove = await errorCode { try await controller.removeContainer(id, force: true) }
                let connect = await errorCode { try await controller.connect(network: "bridge", container: id, settings: nil) }
                seen.withLock { $0 = [second, remove, connect] }
            }
            try await daemon.controller.startContainer(id)
            #expect(seen.withLock { $0 } == [.conflict, .conflict, .conflict])
            #expect(try await daemon.inspect(id).State.Running == true)
        }
    }
}

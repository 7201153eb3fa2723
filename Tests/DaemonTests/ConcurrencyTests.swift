import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// Requests racing each other: names and addresses are never given twice.
@Suite struct ConcurrencyTests {
    @Test func fiftyCreatesWithOneNameHaveOneWinner() async throws {
        try await withDaemon { daemon in
            let outcomes = await withTaskGroup(of: ErrorCode?.self) { group in
                for _ in 0..<50 { group.addTask { await errorCode { try await daemon.create("same") } } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.filter { $0 == .conflict }.count == 49)
            let stored = try daemon.storedContainers()
            #expect(stored.count == 1)
        }
    }

    @Test func fiftyConcurrentStartsNeverShareAnAddress() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.1.0.0/24")
            var ids: [String] = []
            for index in 0..<50 { ids.append(try await daemon.create("c\(index)", network: "n1")) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids { group.addTask { try await daemon.controller.startContainer(id) } }
                try await group.waitForAll()
            }
            var addresses: Set<String> = []
            for id in ids { if let address = try await daemon.address(id) { addresses.insert(address) } }
            #expect(addresses.count == 50)
            let inKernel = daemon.kernel.containerAddresses
            #expect(inKernel.count == 50)
            #expect(Set(inKernel).count == 50)
            #expect(daemon.kernel.calls("createSandbox") == 50)
        }
    }

    @Test func concurrentStartsOfOneContainerStartItOnce() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.create("c1")
            let outcomes = await withTaskGroup(of: ErrorCode?.self) { group in
                for _ in 0..<10 { group.addTask { await errorCode { try await daemon.controller.startContainer(id) } } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            // Each either started it, found it running, or was told it is starting.
            #expect(outcomes.allSatisfy { $0 == nil || $0 == .conflict })
            #expect(daemon.runtime.snapshot.launches.count == 1)
            #expect(daemon.kernel.calls("createSandbox") == 1)
        }
    }

    @Test func concurrentNetworkCreatesWithOneNameHaveOneWinner() async throws {
        try await withDaemon { daemon in
            let outcomes = await withTaskGroup(of: ErrorCode?.self) { group in
                // Distinct subnets: only the name can make them collide.
                for index in 0..<20 {
                    group.addTask { await errorCode { try await daemon.network("racy", subnet: "10.80.\(index).0/24") } }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.filter { $0 == .conflict }.count == 19)
            #expect(await daemon.controller.listNetworks().filter { $0.name == "racy" }.count == 1)
            #expect(daemon.kernel.snapshot.bridges.count == 2)
            let stored = try daemon.storedNetworks()
            #expect(stored.count == 4)
        }
    }

    /// Creates without `--subnet` pick from the pool and reserve the pick with no await in
    /// between, so racing creates each get the next free subnet (before, all but one failed
    /// with 409: they picked before awaiting the host's prefixes and checked after).
    @Test func concurrentNetworkCreatesGetDistinctSubnets() async throws {
        try await withDaemon { daemon in
            let outcomes = await withTaskGroup(of: Result<String?, BerthError>.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        do { return .success(try await daemon.network("n\(index)").subnet?.description) } catch let error as BerthError {
                            return .failure(error)
                        } catch { return .failure(BerthError(.internal, "\(error)")) }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let subnets = outcomes.compactMap { try? $0.get() }
            // Whatever happens, no two networks share a subnet.
            #expect(Set(subnets).count == subnets.count)
            #expect(!subnets.contains("172.17.0.0/16"))
            #expect(subnets.count == 8)
        }
    }

    @Test func concurrentCreatesWithTheSameStaticSubnetHaveOneWinner() async throws {
        try await withDaemon { daemon in
            let outcomes = await withTaskGroup(of: ErrorCode?.self) { group in
                for index in 0..<10 {
                    group.addTask { await errorCode { try await daemon.network("s\(index)", subnet: "10.77.0.0/24") } }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.filter { $0 == .conflict }.count == 9)
        }
    }
}

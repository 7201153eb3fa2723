import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// container create: bad options are refused before anything is stored or made.
@Suite struct ContainerCreateTests {
    /// Nothing of a refused create may remain: no record, no directory, no kernel call.
    private func expectNothingCreated(_ daemon: Harness, storedBefore: Int, _ sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try daemon.storedContainers().count == storedBefore, sourceLocation: sourceLocation)
        let directories = try FileManager.default.contentsOfDirectory(atPath: daemon.configuration.containersDir)
        #expect(directories.count == storedBefore, sourceLocation: sourceLocation)
        #expect(daemon.kernel.calls("createSandbox") == 0, sourceLocation: sourceLocation)
    }

    @Test func createRecordsAContainerWithoutTouchingTheKernel() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.create("c1")
            #expect(try await daemon.status("c1") == "created")
            #expect(try daemon.storedContainers() == [StoreKeys.container(id)])
            #expect(FileManager.default.fileExists(atPath: daemon.configuration.containerDir(id)))
            #expect(daemon.kernel.calls("createSandbox") == 0)
            #expect(daemon.runtime.snapshot.launches.isEmpty)
        }
    }

    @Test func unnamedContainersGetDistinctGeneratedNames() async throws {
        try await withDaemon { daemon in
            let first = try await daemon.inspect(try await daemon.create()).Name
            let second = try await daemon.inspect(try await daemon.create()).Name
            #expect(first != second)
            #expect(first.hasPrefix("/") && first.count > 3)
        }
    }

    @Test func nameConflictIs409AndKeepsTheOwner() async throws {
        try await withDaemon { daemon in
            let owner = try await daemon.create("c1")
            #expect(await errorCode { try await daemon.create("c1") } == .conflict)
            #expect(await errorCode { try await daemon.create("/c1") } == .conflict)
            #expect(try await daemon.inspect("c1").Id == owner)
            #expect(try daemon.storedContainers().count == 1)
        }
    }

    @Test func badMACIsRefusedBeforeAnythingIsStored() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.1.0.0/24")
            #expect(await errorCode { try await daemon.create("c1", network: "n1", mac: "not-a-mac") } == .invalidArgument)
            // A multicast MAC is no address for an interface either.
            #expect(await errorCode { try await daemon.create("c2", network: "n1", mac: "01:00:5e:00:00:01") } == .invalidArgument)
            try expectNothingCreated(daemon, storedBefore: 0)
        }
    }

    @Test func staticAddressOutsideTheSubnetIsRefused() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.1.0.0/24")
            #expect(await errorCode { try await daemon.create("c1", network: "n1", ip: "10.2.0.5") } == .invalidArgument)
            // The gateway is not a container's to take.
            #expect(await errorCode { try await daemon.create("c2", network: "n1", ip: "10.1.0.1") } != nil)
            try expectNothingCreated(daemon, storedBefore: 0)
        }
    }

    @Test func staticAddressOnTheDefaultBridgeIsRefused() async throws {
        try await withDaemon { daemon in
            #expect(await errorCode { try await daemon.create("c1", network: "bridge", ip: "172.17.0.9") } == .invalidArgument)
            try expectNothingCreated(daemon, storedBefore: 0)
        }
    }

    @Test func unknownNetworkIsNotFound() async throws {
        try await withDaemon { daemon in
            #expect(await errorCode { try await daemon.create("c1", network: "nowhere") } == .notFound)
            try expectNothingCreated(daemon, storedBefore: 0)
        }
    }

    @Test func linkToAnUnknownContainerIsRefused() async throws {
        try await withDaemon { daemon in
            // Docker: 400, "could not get container for ghost" (a link on the default bridge).
            #expect(await errorCode { try await daemon.create("c1", links: ["ghost:db"]) } == .invalidArgument)
            try expectNothingCreated(daemon, storedBefore: 0)
            try await daemon.create("db")
            try await daemon.create("c1", links: ["db:database"])
            #expect(try daemon.storedContainers().count == 2)
        }
    }

    @Test func hostModeWithExtraNetworksIsRefused() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.1.0.0/24")
            let code = await errorCode {
                try await daemon.create("c1", network: "host", extraNetworks: ["n1": EndpointSettings()])
            }
            #expect(code == .invalidArgument)
            #expect(await errorCode { try await daemon.create("c2", network: "host", links: ["c1"]) } != nil)
            try expectNothingCreated(daemon, storedBefore: 0)
        }
    }

    @Test func unknownImageIsNotFound() async throws {
        try await withDaemon { daemon in
            #expect(await errorCode { try await daemon.create("c1", image: "alpine") } == .notFound)
            try expectNothingCreated(daemon, storedBefore: 0)
        }
    }

    @Test func badPortBindingIsRefusedAtCreate() async throws {
        try await withDaemon { daemon in
            let ports = ["80/tcp": [PortBinding(HostIp: "", HostPort: "99999")]]
            #expect(await errorCode { try await daemon.create("c1", ports: ports) } == .invalidArgument)
            try expectNothingCreated(daemon, storedBefore: 0)
        }
    }
}

import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// `--config-only` / `--config-from` and network names, as Docker decides them.
@Suite struct ConfigNetworkTests {
    private func configOnly(_ daemon: Harness, _ name: String, subnet: String? = "10.30.0.0/24", gateway: String? = nil,
                            options: [String: String]? = nil, labels: [String: String]? = nil) async throws -> NetworkRecord {
        var request = NetworkCreateRequest(
            Name: name, Driver: "bridge",
            IPAM: IPAMSettings(Config: subnet.map { [IPAMSettings.Pool(Subnet: $0, Gateway: gateway)] } ?? []),
            Options: options, Labels: labels)
        request.ConfigOnly = true
        return try await daemon.controller.createNetwork(request)
    }

    private func fromConfig(_ daemon: Harness, _ name: String, config: String,
                            change: (inout NetworkCreateRequest) -> Void = { _ in }) async throws -> NetworkRecord {
        var request = NetworkCreateRequest(Name: name, Driver: "bridge", IPAM: IPAMSettings(Config: []))
        request.ConfigFrom = .init(Network: config)
        change(&request)
        return try await daemon.controller.createNetwork(request)
    }

    @Test func configOnlyNetworkMakesNothingAndReservesNothing() async throws {
        try await withDaemon { daemon in
            let bridgesBefore = daemon.kernel.snapshot.bridges.count
            let record = try await configOnly(daemon, "cfg", options: ["com.docker.network.bridge.enable_icc": "false"])
            #expect(record.driver == "null")
            #expect(record.subnet == nil)
            #expect(daemon.kernel.snapshot.bridges.count == bridgesBefore)
            let resource = try await daemon.controller.networkResource(reference: "cfg")
            #expect(resource.ConfigOnly)
            #expect(resource.Driver == "null")
            #expect(resource.Scope == "local")
            #expect(resource.IPAM.Config?.first?.Subnet == "10.30.0.0/24")
            // Its subnet is free for the network made from it, as Docker allocates nothing for it.
            let made = try await fromConfig(daemon, "real", config: "cfg")
            #expect(made.subnet?.description == "10.30.0.0/24")
            #expect(made.options["com.docker.network.bridge.enable_icc"] == "false")
            #expect(made.configFrom == "cfg")
            let bridge = try #require(made.bridgeName)
            #expect(daemon.kernel.snapshot.bridges[bridge] != nil)
            let shown = try await daemon.controller.networkResource(reference: "real")
            #expect(shown.ConfigFrom.Network == "cfg")
            #expect(!shown.ConfigOnly)
        }
    }

    @Test func configOnlyRefusesOperatorFieldsWithDockersWords() async throws {
        try await withDaemon { daemon in
            var request = NetworkCreateRequest(Name: "cfg", Internal: true)
            request.ConfigOnly = true
            #expect(await errorCode { _ = try await daemon.controller.createNetwork(request) } == .forbidden)
            request.Internal = nil
            request.ConfigFrom = .init(Network: "other")
            #expect(await errorCode { _ = try await daemon.controller.createNetwork(request) } == .forbidden)
            #expect(await errorCode { _ = try await configOnly(daemon, "bad", subnet: "10.30.0.0/33") } == .invalidArgument)
            #expect(await daemon.controller.listNetworks().count == 3)
        }
    }

    @Test func containersCannotJoinAConfigOnlyNetwork() async throws {
        try await withDaemon { daemon in
            _ = try await configOnly(daemon, "cfg")
            #expect(await errorCode { try await daemon.create("c1", network: "cfg") } == .forbidden)
            try await daemon.run("c2")
            #expect(await errorCode { try await daemon.controller.connect(network: "cfg", container: "c2", settings: nil) } == .forbidden)
            #expect(try daemon.storedContainers().count == 1)
        }
    }

    @Test func configFromRefusesSettingsOfItsOwnAndUnknownSources() async throws {
        try await withDaemon { daemon in
            _ = try await configOnly(daemon, "cfg")
            let ownSubnet = await errorCode {
                _ = try await fromConfig(daemon, "a", config: "cfg") { $0.IPAM = IPAMSettings(Config: [.init(Subnet: "10.31.0.0/24")]) }
            }
            #expect(ownSubnet == .forbidden)
            let ownOption = await errorCode {
                _ = try await fromConfig(daemon, "b", config: "cfg") { $0.Options = ["com.docker.network.driver.mtu": "1400"] }
            }
            #expect(ownOption == .forbidden)
            let ownLabel = await errorCode { _ = try await fromConfig(daemon, "c", config: "cfg") { $0.Labels = ["k": "v"] } }
            #expect(ownLabel == .forbidden)
            #expect(await errorCode { _ = try await fromConfig(daemon, "d", config: "ghost") } == .notFound)
            // A network that is not config-only is no configuration network.
            try await daemon.network("plain")
            #expect(await errorCode { _ = try await fromConfig(daemon, "e", config: "plain") } == .notFound)
            #expect(await daemon.controller.listNetworks().count == 5)
        }
    }

    @Test func aConfigOnlyNetworkInUseCannotBeRemovedButPruneLeavesItAlone() async throws {
        try await withDaemon { daemon in
            _ = try await configOnly(daemon, "cfg")
            _ = try await fromConfig(daemon, "real", config: "cfg")
            #expect(await errorCode { try await daemon.controller.removeNetwork("cfg") } == .forbidden)
            try await daemon.controller.removeNetwork("real")
            let pruned = try await daemon.controller.pruneNetworks(filters: Filters())
            #expect(pruned.isEmpty)
            try await daemon.controller.removeNetwork("cfg")
            #expect(try daemon.storedNetworks().count == 3)
        }
    }

    @Test func bothSurviveARestart() async throws {
        let first = try await Harness()
        defer { first.removeDirectory() }
        _ = try await configOnly(first, "cfg", labels: ["team": "net"])
        _ = try await fromConfig(first, "real", config: "cfg")
        let second = try await Harness(restarting: first)
        let config = try await second.controller.networkResource(reference: "cfg")
        #expect(config.ConfigOnly)
        #expect(config.Labels == ["team": "net"])
        let real = try await second.controller.networkResource(reference: "real")
        #expect(real.ConfigFrom.Network == "cfg")
        #expect(real.Labels == ["team": "net"])
        #expect(await errorCode { try await second.controller.removeNetwork("cfg") } == .forbidden)
        let id = try await second.run(network: "real")
        #expect(try await second.address(id)?.hasPrefix("10.30.0.") == true)
    }

    @Test func networkNamesAreDockers() async throws {
        try await withDaemon { daemon in
            let spaced = try await daemon.network("my net")
            #expect(try await daemon.controller.networkResource(reference: "my net").Id == spaced.id)
            try await daemon.network("ünïcode.name_with-all")
            #expect(await errorCode { try await daemon.network("   ") } == .invalidArgument)
            for name in ["bridge", "host", "none", "default"] {
                #expect(await errorCode { try await daemon.network(name) } == .forbidden)
            }
            #expect(await errorCode { try await daemon.network("my net") } == .conflict)
            let id = try await daemon.run(network: "my net")
            #expect(try await daemon.inspect(id).NetworkSettings.Networks["my net"] != nil)
        }
    }
}

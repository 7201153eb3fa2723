import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// network create / inspect / remove through the controller's API entry points.
@Suite struct NetworkTests {
    @Test func bootstrapMakesTheDefaultBridgeFromTheFirstPool() async throws {
        try await withDaemon { daemon in
            let names = await daemon.controller.listNetworks().map(\.name).sorted()
            #expect(names == ["bridge", "host", "none"])
            let bridge = try await daemon.controller.networkResource(reference: "bridge")
            #expect(bridge.IPAM.Config?.first?.Subnet == "172.17.0.0/16")
            #expect(bridge.IPAM.Config?.first?.Gateway == "172.17.0.1")
            let device = daemon.kernel.snapshot.bridges[daemon.configuration.bridgeName]
            #expect(device?.gateway.description == "172.17.0.1/16")
            #expect(daemon.firewall.snapshot.started)
            #expect(daemon.firewall.snapshot.networks[daemon.configuration.bridgeName] != nil)
        }
    }

    @Test func defaultPoolSkipsWhatTheHostUses() async throws {
        try await withDaemon(prepare: { $0.addHostPrefix(IPv4Network("172.17.5.0/24")!) }) { daemon in
            let bridge = try await daemon.controller.networkResource(reference: "bridge")
            #expect(bridge.IPAM.Config?.first?.Subnet == "172.18.0.0/16")
            let user = try await daemon.network("n1")
            #expect(user.subnet?.description == "172.19.0.0/16")
        }
    }

    @Test func userNetworkGetsTheNextPoolABridgeRulesAndIsolation() async throws {
        try await withDaemon { daemon in
            let record = try await daemon.network("n1")
            #expect(record.subnet?.description == "172.18.0.0/16")
            #expect(record.gateway?.description == "172.18.0.1")
            let bridge = try #require(record.bridgeName)
            #expect(bridge == "br-" + record.id.prefix(12))
            #expect(daemon.kernel.snapshot.bridges[bridge]?.gateway.description == "172.18.0.1/16")
            #expect(daemon.firewall.snapshot.networks[bridge]?.masquerade == true)
            #expect(daemon.kernel.snapshot.isolated[bridge] != nil)
            #expect(try daemon.storedNetworks().contains(StoreKeys.network(record.id)))
        }
    }

    /// The host's input path must let containers' DNS queries reach berthd on the gateway
    /// of a user network; the default bridge has no embedded DNS, so nothing is let in.
    @Test func userNetworksLetDNSQueriesToTheirGatewayIn() async throws {
        try await withDaemon { daemon in
            let record = try await daemon.network("n1", subnet: "10.20.0.0/16", gateway: "10.20.0.254")
            let bridge = try #require(record.bridgeName)
            #expect(daemon.firewall.snapshot.networks[bridge]?.dnsServer?.description == "10.20.0.254")
            #expect(daemon.firewall.snapshot.networks[daemon.configuration.bridgeName]?.dnsServer == nil)
        }
    }

    @Test func explicitSubnetGatewayAndRangeAreKeptAndUsed() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.20.0.0/16", gateway: "10.20.0.254", ipRange: "10.20.5.0/24")
            let resource = try await daemon.controller.networkResource(reference: "n1")
            let pool = try #require(resource.IPAM.Config?.first)
            #expect(pool.Subnet == "10.20.0.0/16")
            #expect(pool.Gateway == "10.20.0.254")
            #expect(pool.IPRange == "10.20.5.0/24")
            let id = try await daemon.run(network: "n1")
            // The range's first address, as Docker (and the integration test) hand it out.
            #expect(try await daemon.address(id) == "10.20.5.0")
            #expect(try await daemon.inspect(id).NetworkSettings.Networks["n1"]?.Gateway == "10.20.0.254")
        }
    }

    @Test func overlappingSubnetIsRefusedBeforeTheKernelIsTouched() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.30.0.0/16")
            let bridgesBefore = daemon.kernel.calls("ensureBridge")
            let code = await errorCode { try await daemon.network("n2", subnet: "10.30.128.0/24") }
            #expect(code == .conflict)
            #expect(daemon.kernel.calls("ensureBridge") == bridgesBefore)
            #expect(await daemon.controller.listNetworks().count == 4)
        }
    }

    @Test func subnetOverlappingTheHostIsRefused() async throws {
        try await withDaemon(prepare: { $0.addHostPrefix(IPv4Network("192.168.1.0/24")!) }) { daemon in
            let code = await errorCode { try await daemon.network("n1", subnet: "192.168.0.0/16") }
            #expect(code == .conflict)
            #expect(daemon.kernel.snapshot.bridges.count == 1)
        }
    }

    @Test func duplicateNameIsAConflict() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1")
            #expect(await errorCode { try await daemon.network("n1") } == .conflict)
            // Docker: 403, "operation is not permitted on predefined bridge network".
            #expect(await errorCode { try await daemon.network("bridge") } == .forbidden)
        }
    }

    @Test(arguments: ["bridge", "host", "none"])
    func predefinedNetworksCannotBeRemoved(name: String) async throws {
        try await withDaemon { daemon in
            #expect(await errorCode { try await daemon.controller.removeNetwork(name) } == .forbidden)
            #expect(await daemon.controller.listNetworks().contains { $0.name == name })
        }
    }

    @Test func networkWithAContainerCannotBeRemovedUntilItIsGone() async throws {
        try await withDaemon { daemon in
            let record = try await daemon.network("n1")
            let bridge = try #require(record.bridgeName)
            let id = try await daemon.run("c1", network: "n1")
            #expect(await errorCode { try await daemon.controller.removeNetwork("n1") } == .conflict)
            #expect(daemon.kernel.snapshot.bridges[bridge] != nil)
            try await daemon.controller.removeContainer(id, force: true)
            try await daemon.controller.removeNetwork("n1")
            #expect(daemon.kernel.snapshot.bridges[bridge] == nil)
            #expect(daemon.kernel.snapshot.isolated[bridge] == nil)
            #expect(daemon.firewall.snapshot.networks[bridge] == nil)
            #expect(try !daemon.storedNetworks().contains(StoreKeys.network(record.id)))
            #expect(await errorCode { try await daemon.controller.removeNetwork("n1") } == .notFound)
        }
    }

    @Test func inspectListsAttachedContainers() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.40.0.0/24")
            let id = try await daemon.run("c1", network: "n1")
            let resource = try await daemon.controller.networkResource(reference: "n1")
            #expect(resource.Containers[id]?.Name == "c1")
            #expect(resource.Containers[id]?.IPv4Address == "10.40.0.2/24")
        }
    }

    @Test func failedBridgeCreationLeavesNoRecordAndFreesTheSubnet() async throws {
        try await withDaemon { daemon in
            daemon.kernel.fail("ensureBridge")
            let code = await errorCode { try await daemon.network("n1", subnet: "10.50.0.0/24") }
            #expect(code == .kernel)
            #expect(try daemon.storedNetworks().count == 3)
            #expect(await !daemon.controller.listNetworks().contains { $0.name == "n1" })
            // Neither name nor subnet is held: the same create works now.
            let record = try await daemon.network("n1", subnet: "10.50.0.0/24")
            #expect(record.subnet?.description == "10.50.0.0/24")
        }
    }

    @Test func failedFirewallRulesRemoveTheBridgeTheRequestMade() async throws {
        try await withDaemon { daemon in
            daemon.firewall.fail("addNetwork")
            #expect(await errorCode { try await daemon.network("n1", subnet: "10.60.0.0/24") } == .kernel)
            #expect(daemon.kernel.snapshot.bridges.count == 1)
            #expect(daemon.kernel.calls("removeBridge") == 1)
            #expect(try daemon.storedNetworks().count == 3)
            try await daemon.network("n1", subnet: "10.60.0.0/24")
        }
    }

    @Test func failedIsolationUndoesRulesAndBridge() async throws {
        try await withDaemon { daemon in
            daemon.kernel.fail("isolate")
            #expect(await errorCode { try await daemon.network("n1", subnet: "10.70.0.0/24") } == .kernel)
            #expect(daemon.kernel.snapshot.bridges.count == 1)
            #expect(daemon.firewall.snapshot.networks.count == 1)
            let stored = try daemon.storedNetworks()
            #expect(stored.count == 3)
        }
    }

    /// A `network rm` whose teardown fails runs every step, names each failed one, and keeps
    /// the network (record, name, subnet) so the rm can be tried again.
    @Test func failedRemovalRunsEveryStepAndKeepsTheNetwork() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.80.0.0/24")
            daemon.firewall.fail("removeNetwork")
            daemon.kernel.fail("removeBridge")
            var message = ""
            do { try await daemon.controller.removeNetwork("n1") } catch let error as BerthError { message = "\(error)" }
            #expect(message.contains("firewall rules") && message.contains("removing bridge"))
            // The routing rules' step ran although the one before it failed.
            #expect(daemon.kernel.calls("releaseIsolation") == 1)
            #expect(try daemon.storedNetworks().count == 4)
            #expect(await errorCode { try await daemon.network("n2", subnet: "10.80.0.0/24") } == .conflict)
            // Tried again, it goes.
            try await daemon.controller.removeNetwork("n1")
            #expect(try daemon.storedNetworks().count == 3)
            try await daemon.network("n2", subnet: "10.80.0.0/24")
        }
    }

    /// The bridged drivers' shared parts reach the controller through the protocol (what
    /// start-up asks each network's driver for to build the firewall and routing rules).
    @Test func theBridgeDriverGivesItsRulesThroughTheProtocol() async throws {
        try await withDaemon { daemon in
            let record = try await daemon.network("n1", subnet: "10.90.0.0/24")
            let driver: any NetworkDriver = await daemon.controller.drivers.of(record)
            #expect(driver.firewallNetwork(record)?.bridge == record.bridgeName)
            #expect(driver.isolatedNetwork(record) != nil)
            let spec = try driver.interfaceSpec(
                EndpointRecord(id: "e", networkID: record.id, networkName: "n1", interfaceName: "eth0", hostInterface: "vethx",
                               ipv4: IPv4Address("10.90.0.5"), prefixLength: 24, gateway: record.gateway, ipv6: nil,
                               prefixLength6: nil, gateway6: nil, mac: try #require(MACAddress("02:42:0a:5a:00:05")),
                               aliases: [], links: [], requestedIPv4: nil, requestedIPv6: nil, requestedMAC: nil),
                on: record, defaultRoute: true, defaultRoute6: false)
            #expect(spec.bridgeName == record.bridgeName && spec.gateway == record.gateway)
        }
    }

    /// Fields Docker acts on that berth cannot honour are refused, naming them, before
    /// anything is made.
    @Test(arguments: [
        ("ingress", "swarm mode"), ("ipamDriver", "IPAM driver \"infoblox\""),
        ("noIPv4", "--ipv4=false"), ("swarmScope", "scope swarm"),
    ])
    func unsupportedCreateFieldsAreRefused(field: String, message: String) async throws {
        try await withDaemon { daemon in
            var request = NetworkCreateRequest(Name: "n1")
            switch field {
            case "ingress": request.Ingress = true
            case "ipamDriver": request.IPAM = IPAMSettings(Driver: "infoblox")
            case "noIPv4": request.EnableIPv4 = false
            default: request.Scope = "swarm"
            }
            var refused = ""
            do { _ = try await daemon.controller.createNetwork(request) } catch let error as BerthError {
                #expect(error.code == .invalidArgument)
                refused = error.message
            }
            #expect(refused.contains(message))
            #expect(daemon.kernel.snapshot.bridges.count == 1)
            #expect(try daemon.storedNetworks().count == 3)
            // What Docker's clients send by default still works.
            request = NetworkCreateRequest(Name: "n1")
            request.Scope = "local"
            request.EnableIPv4 = true
            request.Ingress = false
            _ = try await daemon.controller.createNetwork(request)
        }
    }
}

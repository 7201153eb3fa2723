import BerthCore
@testable import Daemon
import Drivers
import Testing

private func network(id: String = "0123456789abcdef0123", options: [String: String] = [:], isInternal: Bool = false,
                     subnet6: IPv6Network? = nil) -> NetworkRecord {
    NetworkRecord(id: id, name: "front", driver: BridgeDriver.name, created: "", bridgeName: nil,
                  subnet: IPv4Network("10.30.0.0/24"), gateway: IPv4Address("10.30.0.1"), ipRange: nil,
                  auxiliaryAddresses: [:], subnet6: subnet6, gateway6: nil, enableIPv6: subnet6 != nil, isInternal: isInternal,
                  attachable: false, options: options, labels: [:], predefined: false, mtu: 0)
}

private func endpoint() -> EndpointRecord {
    EndpointRecord(id: "e1", networkID: "0123456789abcdef0123", networkName: "front", interfaceName: "eth1",
                   hostInterface: "vethe1", ipv4: IPv4Address("10.30.0.7"), prefixLength: 24, gateway: IPv4Address("10.30.0.1"),
                   ipv6: nil, prefixLength6: nil, gateway6: nil, mac: MACAddress(derivedFrom: IPv4Address("10.30.0.7")!),
                   aliases: [], links: [], requestedIPv4: nil, requestedIPv6: nil, requestedMAC: nil)
}

@Suite("Bridged networks")
struct BridgedNetworkTests {
    @Test func bridgeSettingsFromOptions() throws {
        var plain = network()
        try BridgeDriver.configure(&plain, defaultMTU: 1500)
        #expect(plain.bridgeName == "br-0123456789ab")
        #expect(plain.mtu == 1500)
        var named = network(options: [DriverOptions.bridgeName: "br-mine", DriverOptions.mtu: "1400"])
        try BridgeDriver.configure(&named, defaultMTU: 1500)
        #expect(named.bridgeName == "br-mine")
        #expect(named.mtu == 1400)
    }

    @Test func overlaySettingsFromIDAndUnderlay() {
        var record = network()
        OverlayDriver.configure(&record, underlayMTU: 1500)
        #expect(record.bridgeName == "ov-0123456789ab")
        #expect(record.vxlanName == "vx-0123456789ab")
        #expect(record.mtu == 1450)
    }

    @Test func interfaceOnTheBridge() throws {
        var record = network(options: [DriverOptions.icc: "false"])
        try BridgeDriver.configure(&record, defaultMTU: 1500)
        let routed = try BridgedNetwork.interfaceSpec(endpoint(), on: record, defaultRoute: true, defaultRoute6: false)
        #expect(routed.bridgeName == "br-0123456789ab")
        #expect(routed.containerName == "eth1")
        #expect(routed.address.description == "10.30.0.7/24")
        #expect(routed.gateway == IPv4Address("10.30.0.1"))
        #expect(routed.mtu == 1500)
        #expect(routed.portGroup != nil)  // icc=false keeps its ports apart
        let unrouted = try BridgedNetwork.interfaceSpec(endpoint(), on: record, defaultRoute: false, defaultRoute6: false)
        #expect(unrouted.gateway == nil)
    }

    @Test func aNetworkWithoutItsBridgeHasNoInterface() {
        #expect(throws: BerthError.self) {
            try BridgedNetwork.interfaceSpec(endpoint(), on: network(), defaultRoute: true, defaultRoute6: false)
        }
    }

    @Test func firewallAndIsolation() throws {
        var record = network(options: [DriverOptions.masquerade: "false"])
        try BridgeDriver.configure(&record, defaultMTU: 1500)
        let rules = try #require(BridgedNetwork.firewallNetwork(record, ipMasquerade: true))
        #expect(rules.bridge == "br-0123456789ab")
        #expect(!rules.masquerade)
        #expect(!rules.isolated)
        var sealed = network(isInternal: true)
        try BridgeDriver.configure(&sealed, defaultMTU: 1500)
        #expect(BridgedNetwork.firewallNetwork(sealed, ipMasquerade: true)?.masquerade == false)
        var open = network()
        try BridgeDriver.configure(&open, defaultMTU: 1500)
        #expect(BridgedNetwork.firewallNetwork(open, ipMasquerade: true)?.masquerade == true)
        #expect(BridgedNetwork.firewallNetwork(open, ipMasquerade: false)?.masquerade == false)
        let isolated = try #require(BridgedNetwork.isolatedNetwork(open))
        #expect(isolated.interface == "br-0123456789ab")
        #expect(isolated.subnets.map(\.description) == ["10.30.0.0/24"])
        #expect(BridgedNetwork.firewallNetwork(network(), ipMasquerade: true) == nil)
    }
}

import BerthCore
import Drivers
import Firewall
import Logging
import Netlink

/// What bridge and overlay networks share: containers meet on a Linux bridge of this
/// host, whose traffic berth's firewall and policy routing rules match by its name.
struct BridgedNetwork: Sendable {
    let worker: any LinkService
    let firewall: any FirewallService
    /// `berthd --ip-masq=false` turns masquerading off for every network.
    let ipMasquerade: Bool
    let logger: Logger

    func firewallNetwork(_ network: NetworkRecord) -> FirewallNetwork? {
        Self.firewallNetwork(network, ipMasquerade: ipMasquerade)
    }

    static func firewallNetwork(_ network: NetworkRecord, ipMasquerade: Bool) -> FirewallNetwork? {
        guard let bridge = network.bridgeName else { return nil }
        let masquerade = ipMasquerade && DriverOptions.flag(network.options[DriverOptions.masquerade]) != false
        return FirewallNetwork(bridge: bridge, masquerade: masquerade && !network.isInternal,
                               isInternal: network.isInternal, ipv6: network.subnet6 != nil,
                               isolated: !allowsInterContainer(network),
                               dnsServer: network.predefined ? nil : network.gateway)
    }

    /// The interface a network's routed traffic arrives on and its subnets.
    static func isolatedNetwork(_ network: NetworkRecord) -> IsolatedNetwork? {
        guard let interface = network.bridgeName else { return nil }
        var subnets: [RoutePrefix] = []
        if let subnet = network.subnet { subnets.append(RoutePrefix(subnet)) }
        if let subnet6 = network.subnet6 { subnets.append(RoutePrefix(subnet6)) }
        return IsolatedNetwork(interface: interface, subnets: subnets)
    }

    /// Whether containers of the network may talk to each other directly (Docker's icc).
    static func allowsInterContainer(_ network: NetworkRecord) -> Bool {
        DriverOptions.flag(network.options[DriverOptions.icc]) != false
    }

    /// Adds the network's firewall elements and isolation rules; on failure removes
    /// what this call added.
    func addRules(_ network: NetworkRecord) async throws {
        let firewall = self.firewall
        let worker = self.worker
        try await Steps.run("rules of network \(network.name)", logger: logger) { undo in
            if let rules = firewallNetwork(network) {
                try await firewall.addNetwork(rules)
                undo.add("remove its firewall rules") { try await firewall.removeNetwork(bridge: rules.bridge) }
            }
            if let isolated = Self.isolatedNetwork(network) {
                // Registered first: isolation may add one family's rules before failing.
                undo.add("remove its routing rules") {
                    try await worker.releaseIsolation(isolated, exemptMark: Ruleset.publishedMark)
                }
                try await worker.isolate(isolated, exemptMark: Ruleset.publishedMark)
            }
        }
    }

    /// The network's firewall rules and routing rules, as steps of `teardown`.
    func removeRules(_ network: NetworkRecord, in teardown: inout Teardown) async {
        if let bridge = network.bridgeName {
            await teardown.step("removing its firewall rules") { try await firewall.removeNetwork(bridge: bridge) }
        }
        if let isolated = Self.isolatedNetwork(network) {
            await teardown.step("removing its routing rules") {
                try await worker.releaseIsolation(isolated, exemptMark: Ruleset.publishedMark)
            }
        }
    }

    static func bridgeSpec(_ network: NetworkRecord) throws(BerthError) -> BridgeSpec {
        guard let name = network.bridgeName, let subnet = network.subnet, let gateway = network.gateway else {
            throw BerthError(.internal, "network \(network.name) is missing its bridge settings")
        }
        let gateway6 = network.gateway6.flatMap { address in network.subnet6.map { $0.with(address: address) } }
        return BridgeSpec(name: name, gateway: subnet.with(address: gateway), gateway6: gateway6, mtu: network.mtu)
    }

    /// A veth with its host end on the network's bridge.
    static func interfaceSpec(_ endpoint: EndpointRecord, on network: NetworkRecord, defaultRoute: Bool,
                       defaultRoute6: Bool) throws(BerthError) -> InterfaceSpec {
        guard let bridge = network.bridgeName, let address = endpoint.ipv4, let prefix = endpoint.prefixLength,
              let cidr = IPv4Network(address: address, prefixLength: prefix) else {
            throw BerthError(.internal, "endpoint \(endpoint.id) is incomplete")
        }
        let cidr6 = endpoint.ipv6.flatMap { address in
            endpoint.prefixLength6.flatMap { IPv6Network(address: address, prefixLength: $0) }
        }
        return InterfaceSpec(
            hostName: endpoint.hostInterface, containerName: endpoint.interfaceName, bridgeName: bridge, mac: endpoint.mac,
            address: cidr, gateway: defaultRoute ? endpoint.gateway : nil, address6: cidr6,
            gateway6: defaultRoute6 ? endpoint.gateway6 : nil, mtu: network.mtu,
            portGroup: allowsInterContainer(network) ? nil : Ruleset.isolatedPortGroup)
    }
}

/// A driver whose containers join through a veth on a bridge (bridge, overlay): the
/// firewall, isolation and interface parts are the same for all of them.
protocol BridgedDriver: NetworkDriver {
    var bridged: BridgedNetwork { get }
}

extension BridgedDriver {
    func firewallNetwork(_ network: NetworkRecord) -> FirewallNetwork? { bridged.firewallNetwork(network) }
    func isolatedNetwork(_ network: NetworkRecord) -> IsolatedNetwork? { BridgedNetwork.isolatedNetwork(network) }

    func interfaceSpec(_ endpoint: EndpointRecord, on network: NetworkRecord, defaultRoute: Bool,
                       defaultRoute6: Bool) throws(BerthError) -> InterfaceSpec {
        try BridgedNetwork.interfaceSpec(endpoint, on: network, defaultRoute: defaultRoute, defaultRoute6: defaultRoute6)
    }
}

import BerthCore
import ContainerRuntime
import Drivers
import DockerAPI
import Firewall
import Foundation
import IPAM

/// What a container's endpoints need around a start and an exit: addresses allocated and
/// released, interface specs, teardowns in flight, and the /etc/hosts entries of links.
extension Controller {
    /// Containers linking to `target` get its new address in their /etc/hosts and their
    /// link names (a link on a user-defined network may have been made before its target),
    /// so a link follows the linked container across restarts.
    func refreshLinkers(of target: ContainerRecord) {
        for id in containers.linking where id != target.id {
            guard let linker = containers[id], linker.isRunning else { continue }
            let links = linker.attachments.flatMap(\.links)
            guard links.contains(where: { text in
                let name = (try? LegacyLink.parse(text))?.target ?? ""
                return name == target.name || (!name.isEmpty && target.id.hasPrefix(name))
            }) else { continue }
            rewriteHosts(of: linker)
            publishDNS(replacing: linker, with: linker)
        }
    }

    /// /etc/hosts lines for `--link` targets on the default bridge (name resolution there
    /// exists only through links, one way).
    func linkEntries(_ record: ContainerRecord, endpoints: [EndpointRecord]) -> [(String, String)] {
        var lines: [(String, String)] = []
        for attachment in record.attachments {
            for link in attachment.links {
                // A link to a container that is gone or stopped has no entry, as in Docker.
                guard let parsed = try? LegacyLink.parse(link), let target = try? container(parsed.target),
                      target.isRunning else { continue }
                guard let endpoint = target.endpoints.first(where: { $0.networkID == attachment.networkID }) ?? target.endpoints.first,
                      let address = endpoint.ipv4 else { continue }
                var names = [parsed.alias]
                if !names.contains(target.name) { names.append(target.name) }
                names.append(target.config.Hostname.flatMap { $0.isEmpty ? nil : $0 } ?? target.shortID)
                lines.append((address.description, names.joined(separator: " ")))
            }
        }
        return lines
    }

    func allocateEndpoint(_ attachment: NetworkAttachment, interfaceName: String, containerID: String) throws(BerthError) -> EndpointRecord {
        guard let network = networks[attachment.networkID] else {
            throw .notFound("network \(attachment.networkID) not found")
        }
        guard let subnet = network.subnet else {
            throw BerthError(.internal, "network \(network.name) has no address pool")
        }
        let (address, ipv6) = try networks.allocate(on: network.id, ipv4: attachment.requestedIPv4,
                                                    ipv6: attachment.requestedIPv6)
        let endpointID = Identifiers.random()
        let mac = attachment.requestedMAC ?? MACAddress(derivedFrom: address)
        return EndpointRecord(
            id: endpointID, networkID: network.id, networkName: network.name, interfaceName: interfaceName,
            hostInterface: "veth" + endpointID.prefix(7), ipv4: address, prefixLength: subnet.prefixLength,
            gateway: network.isInternal ? nil : network.gateway, ipv6: ipv6,
            prefixLength6: network.subnet6?.prefixLength,
            gateway6: network.isInternal ? nil : network.gateway6, mac: mac, aliases: attachment.aliases,
            links: attachment.links, requestedIPv4: attachment.requestedIPv4, requestedIPv6: attachment.requestedIPv6,
            requestedMAC: attachment.requestedMAC)
    }

    /// Confirms reserved endpoints' addresses with the cluster (overlay networks; a no-op
    /// for others). All or nothing: on failure its own claims and the local addresses of
    /// `reserved` are given back (an address another node took stays taken here).
    func claimAddresses(_ reserved: [EndpointRecord], for container: ContainerRecord) async throws -> [EndpointRecord] {
        var claimed = reserved
        do {
            try await claimClusterAddresses(&claimed, for: container)
        } catch {
            releaseClusterAddresses(claimed, of: container)
            releaseAddresses(claimed)
            throw error
        }
        return claimed
    }

    /// Marks endpoints whose interfaces are being deleted in the background: their
    /// addresses stay taken and their networks cannot be removed meanwhile.
    func beginTeardown(_ endpoints: [EndpointRecord]) {
        teardowns.begin(networks: endpoints.map(\.networkID))
    }

    func finishTeardown(_ endpoints: [EndpointRecord], started: ContinuousClock.Instant) {
        releaseAddresses(endpoints)
        teardowns.finish(networks: endpoints.map(\.networkID))
        if !endpoints.isEmpty { networkTimings.teardown.record(ContinuousClock.now - started) }
    }

    /// Waits until no background teardown touches `network` (every one when nil), or the
    /// deadline passes; true if none is left.
    func waitForTeardowns(network: String? = nil, timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while network.map({ teardowns.isBusy(network: $0) }) ?? (teardowns.count > 0) {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }

    func releaseAddresses(_ endpoints: [EndpointRecord]) {
        for endpoint in endpoints {
            if let address = endpoint.ipv4 { networks.release(address, on: endpoint.networkID) }
            if let address = endpoint.ipv6 { networks.release(address, on: endpoint.networkID) }
        }
    }

    func interfaceSpec(_ endpoint: EndpointRecord, defaultRoute: Bool, defaultRoute6: Bool) throws(BerthError) -> InterfaceSpec {
        guard let network = networks[endpoint.networkID] else { throw .notFound("network \(endpoint.networkID) not found") }
        return try drivers.of(network).interfaceSpec(endpoint, on: network, defaultRoute: defaultRoute, defaultRoute6: defaultRoute6)
    }
}

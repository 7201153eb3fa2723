import BerthCore
import DNS
import Foundation

extension Controller {
    /// User-defined bridge networks get name resolution; the default bridge does not
    /// (as in Docker: there, names resolve only through links).
    func hasEmbeddedDNS(_ network: NetworkRecord) -> Bool {
        drivers.of(network).connectsContainers && !network.predefined
    }

    /// The resolver address a container on these endpoints uses: the gateway of its first
    /// user-defined network.
    func dnsServerAddress(for endpoints: [EndpointRecord]) -> IPv4Address? {
        for endpoint in endpoints {
            if let network = networks[endpoint.networkID], hasEmbeddedDNS(network), let gateway = network.gateway {
                return gateway
            }
        }
        return nil
    }

    /// Rebuilds the DNS records from the running containers and hands them to the server
    /// in one swap. Called when names go away (stop, disconnect, network removal), before
    /// the API answers, so a removed container stops resolving at once.
    func publishDNS() {
        guard let dns else { return }
        var records = DNSRecords()
        for network in networks.values where hasEmbeddedDNS(network) {
            records.addNetwork(network.id, isInternal: network.isInternal)
        }
        for container in containers.values where container.state.isSettledRunning {
            addNames(of: container, to: &records)
        }
        dnsRecords = records
        for endpoint in remoteEndpoints.values where networks[endpoint.networkID] != nil { addRemoteNames(endpoint) }
        dns.update(dnsRecords)
    }

    /// Adds one container's names to the current records: a start or a connect costs the
    /// same however many containers run, and the name resolves as soon as the API answers.
    func publishDNS(adding container: ContainerRecord) {
        guard let dns else { return }
        addNames(of: container, to: &dnsRecords)
        dns.update(dnsRecords)
    }

    /// Takes one container's names out of the current records, at a cost that does not
    /// grow with the number of containers.
    func publishDNS(removing container: ContainerRecord) {
        guard let dns else { return }
        removeNames(of: container, from: &dnsRecords)
        dns.update(dnsRecords)
    }

    /// Publishes a running container's changed endpoints (network disconnect).
    func publishDNS(replacing old: ContainerRecord, with new: ContainerRecord) {
        guard let dns else { return }
        removeNames(of: old, from: &dnsRecords)
        addNames(of: new, to: &dnsRecords)
        dns.update(dnsRecords)
    }

    private func removeNames(of container: ContainerRecord, from records: inout DNSRecords) {
        let endpoints = container.endpoints.map { endpoint in
            DNSEndpoint(network: endpoint.networkID,
                        addresses: endpoint.addresses,
                        aliases: endpoint.aliases)
        }
        records.removeContainer(id: container.id, name: container.name, endpoints: endpoints)
        records.removeScope("links/" + container.id)
    }

    private func addNames(of container: ContainerRecord, to records: inout DNSRecords) {
        let endpoints = container.endpoints.filter { networks[$0.networkID].map(hasEmbeddedDNS) ?? false }
        guard !endpoints.isEmpty else { return }
        let upstreams = container.hostConfig.Dns.flatMap { servers -> [DNSUpstream]? in
            let parsed = servers.compactMap(IPAddress.init).map { DNSUpstream($0) }
            return parsed.isEmpty ? nil : parsed
        }
        let dnsEndpoints = endpoints.map { endpoint in
            DNSEndpoint(network: endpoint.networkID,
                        addresses: endpoint.addresses,
                        aliases: endpoint.aliases)
        }
        records.addContainer(id: container.id, name: container.name, upstreams: upstreams, endpoints: dnsEndpoints)
        // `--link NAME:ALIAS` on a user-defined network is an alias only the linking
        // container sees: a network of its own in the records.
        var linkNames: [(String, [IPAddress])] = []
        for endpoint in endpoints {
            for link in endpoint.links {
                let parts = link.split(separator: ":").map(String.init)
                // A link to a container that is gone or stopped resolves to nothing.
                guard let targetName = parts.first, let target = try? self.container(targetName), target.isRunning else { continue }
                let addresses = target.endpoints.filter { $0.networkID == endpoint.networkID }
                    .flatMap(\.addresses)
                linkNames.append((parts.count > 1 ? parts[1] : targetName, addresses))
            }
        }
        guard !linkNames.isEmpty else { return }
        let scope = "links/" + container.id
        for (name, addresses) in linkNames {
            records.add(names: [name], addresses: addresses, network: scope, reverse: false)
        }
        for endpoint in dnsEndpoints {
            for address in endpoint.addresses {
                records.setRequester(address, networks: dnsEndpoints.map(\.network) + [scope], upstreams: upstreams)
            }
        }
    }

    /// Listens on the gateway of every user-defined network, and nowhere else.
    func syncDNSListeners() async {
        guard let dns else { return }
        var wanted: Set<IPAddress> = []
        for network in networks.values where hasEmbeddedDNS(network) {
            if let gateway = network.gateway { wanted.insert(.v4(gateway)) }
        }
        for address in dnsListening.subtracting(wanted) {
            await dns.stopListening(on: address)
            dnsListening.remove(address)
        }
        for address in wanted.subtracting(dnsListening) {
            do {
                _ = try await dns.listen(on: address, port: 53)
                dnsListening.insert(address)
            } catch {
                logger.error("cannot serve DNS", metadata: ["address": .string("\(address)"), "error": .string("\(error)")])
            }
        }
    }

    /// The daemon's upstream resolvers: every nameserver of its resolv.conf. Loopback ones
    /// are fine here, since berthd forwards from the host's namespace.
    static func upstreams(resolvConf path: String) -> [DNSUpstream] {
        // No resolv.conf: no upstream, names outside berth's get SERVFAIL.
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver", let address = IPAddress(fields[1]) else { return nil }
            return DNSUpstream(address)
        }
    }
}

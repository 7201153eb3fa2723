import BerthCore
import DockerAPI

/// Legacy links as Docker keeps them: on the default bridge a link names a container that
/// must exist at create and run at start, and gives the linking container environment
/// variables and /etc/hosts lines; on a user-defined network it is only a name the
/// linking container resolves, checked nowhere (its target may come later).
extension Controller {
    func isDefaultBridge(_ network: NetworkRecord) -> Bool {
        network.predefined && network.name == "bridge"
    }

    /// Create and connect: each link's form, and on the default bridge its target, as
    /// Docker's `registerLinks` checks them (400, its words).
    func checkLinks(_ links: [String], on network: NetworkRecord) throws(BerthError) {
        for text in links {
            let link = try LegacyLink.parse(text)
            guard isDefaultBridge(network) else { continue }
            let target: ContainerRecord
            do { target = try container(link.target) } catch {
                throw .invalid("could not get container for \(link.target): \(error.message)")
            }
            if target.networkMode == .host {
                throw .invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
            }
        }
    }

    /// Start: the variables of the container's links on the default bridge. A target gone,
    /// stopped or off the default bridge refuses the start before anything is made, with
    /// Docker's words ("Cannot link to a non running container: /db AS /web/db").
    func legacyLinkEnvironment(_ record: ContainerRecord) throws(BerthError) -> [String] {
        guard let attachment = record.attachments.first(where: { networks[$0.networkID].map(isDefaultBridge) ?? false }) else {
            return []
        }
        var variables: [String] = []
        for text in attachment.links {
            let link = try LegacyLink.parse(text)
            let linkName = "/\(record.name)/\(link.alias)"
            guard let target = try? container(link.target), target.isRunning else {
                throw .conflict("Cannot link to a non running container: /\(link.target) AS \(linkName)")
            }
            guard let endpoint = target.endpoints.first(where: { $0.networkID == attachment.networkID }),
                  let address = endpoint.ipv4 else {
                throw .conflict("Cannot link to /\(target.name), as it does not belong to the default network")
            }
            variables += LegacyLink.environment(
                linkName: linkName, targetAddress: address.description, targetEnv: target.config.Env ?? [],
                exposedPorts: Array((target.config.ExposedPorts ?? [:]).keys))
        }
        return variables
    }

    /// `docker rm --link /web/db` (`DELETE /containers/web/db?link=1`): the link goes from
    /// web's record, its /etc/hosts line and its DNS name; both containers keep running.
    func removeLink(_ reference: String) throws(BerthError) {
        let path = reference.split(separator: "/").map(String.init)
        guard path.count >= 2, let alias = path.last else {
            throw .conflict("Conflict, cannot remove the default link name of the container")
        }
        let parentName = path.dropLast().joined(separator: "/")
        let linkName = "/" + path.joined(separator: "/")
        guard var parent = try? container(parentName) else {
            throw .notFound("Cannot get parent /\(parentName) for link name \(linkName)")
        }
        var removed = false
        for index in parent.attachments.indices {
            let kept = parent.attachments[index].links.filter { text in (try? LegacyLink.parse(text))?.alias != alias }
            removed = removed || kept.count != parent.attachments[index].links.count
            parent.attachments[index].links = kept
        }
        guard removed else { throw .notFound("No such container: \(linkName)") }
        let before = parent
        if case .running(var live) = parent.state {
            for index in live.endpoints.indices {
                live.endpoints[index].links.removeAll { text in (try? LegacyLink.parse(text))?.alias == alias }
            }
            parent.state = .running(live)
        }
        try save(parent)
        guard parent.isRunning else { return }
        rewriteHosts(of: parent)
        publishDNS(replacing: before, with: parent)
    }

    /// A running container's /etc/hosts made again from its endpoints, --add-host entries
    /// and links.
    func rewriteHosts(of linker: ContainerRecord) {
        let hostname = linker.config.Hostname.flatMap { $0.isEmpty ? nil : $0 } ?? linker.shortID
        do {
            // Checked at create: an entry that no longer parses is left out rather than the links.
            let extraHosts = (linker.hostConfig.ExtraHosts ?? []).compactMap { try? extraHost($0) }
            let text = hostsFile(linker, hostname: hostname, endpoints: linker.endpoints, extraHosts: extraHosts)
            try ContainerFiles.rewriteInPlace(text, at: configuration.containerDir(linker.id) + "/hosts")
        } catch {
            logger.warning("cannot update links", metadata: ["container": .string(linker.name), "error": .string("\(error)")])
        }
    }
}

extension Controller {
    /// Endpoint settings berth would not act on, refused rather than kept and ignored:
    /// link-local addresses (berth assigns none) and driver options (neither of its
    /// drivers reads any per endpoint).
    static func refuseUnhonouredEndpointSettings(_ settings: EndpointSettings?) throws(BerthError) {
        if let addresses = settings?.IPAMConfig?.LinkLocalIPs, !addresses.isEmpty {
            throw .invalid("link-local addresses (--link-local-ip \(addresses.joined(separator: ", "))) are not supported: berth assigns none")
        }
        if let key = (settings?.DriverOpts ?? [:]).keys.sorted().first {
            throw .invalid("endpoint driver option \(key) is not supported: berth's drivers take no per-endpoint options")
        }
    }
}

extension Controller {
    /// A running container joined its first network with embedded DNS (it started on the
    /// default bridge only): its resolv.conf now names the embedded server, with the
    /// container's `--dns` servers as that server's upstreams, as a start would write it.
    func useEmbeddedDNS(_ record: ContainerRecord) {
        guard let server = dnsServerAddress(for: record.endpoints) else { return }
        let hostResolv = (try? String(contentsOfFile: configuration.resolvConfPath, encoding: .utf8)) ?? ""
        let text = ContainerFiles.resolvConf(hostResolvConf: hostResolv, dns: [server.description],
                                             search: record.hostConfig.DnsSearch ?? [],
                                             options: record.hostConfig.DnsOptions ?? [], keepHostNameservers: false)
        do {
            try ContainerFiles.rewriteInPlace(text, at: configuration.containerDir(record.id) + "/resolv.conf")
        } catch {
            logger.warning("cannot point resolv.conf at the embedded DNS", metadata: ["container": .string(record.name), "error": .string("\(error)")])
        }
    }
}

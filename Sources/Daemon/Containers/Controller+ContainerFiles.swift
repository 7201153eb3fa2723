import BerthCore
import Foundation

/// The files a container sees as /etc/hosts, /etc/hostname and /etc/resolv.conf.
extension Controller {
    func containerHostname(_ record: ContainerRecord, sharedWith: ContainerRecord?) -> String {
        if let sharedWith { return sharedWith.config.Hostname.flatMap { $0.isEmpty ? nil : $0 } ?? sharedWith.shortID }
        if record.networkMode == .host { return ProcessInfo.processInfo.hostName }
        return record.config.Hostname.flatMap { $0.isEmpty ? nil : $0 } ?? record.shortID
    }

    func writeContainerFiles(_ record: ContainerRecord, hostname: String, endpoints: [EndpointRecord],
                                     sharedWith: ContainerRecord?) throws(BerthError) {
        let directory = configuration.containerDir(record.id)
        if let sharedWith {
            // container:NAME sees what the other container sees.
            let source = configuration.containerDir(sharedWith.id)
            for file in ["hosts", "hostname", "resolv.conf"] {
                // The other container's file may be gone with it: an empty one then.
                let text = (try? String(contentsOfFile: source + "/" + file, encoding: .utf8)) ?? ""
                try ContainerFiles.write(text, to: directory + "/" + file)
            }
            return
        }
        // A host without resolv.conf: the container gets only what berth and --dns give.
        let hostResolv = (try? String(contentsOfFile: configuration.resolvConfPath, encoding: .utf8)) ?? ""
        let resolv: String
        if let server = dnsServerAddress(for: endpoints) {
            // On user-defined networks the embedded server answers; `--dns` servers become
            // its upstreams for this container.
            resolv = ContainerFiles.resolvConf(hostResolvConf: hostResolv, dns: [server.description],
                                               search: record.hostConfig.DnsSearch ?? [], options: record.hostConfig.DnsOptions ?? [],
                                               keepHostNameservers: false)
        } else {
            resolv = ContainerFiles.resolvConf(hostResolvConf: hostResolv, dns: record.hostConfig.Dns ?? [],
                                               search: record.hostConfig.DnsSearch ?? [], options: record.hostConfig.DnsOptions ?? [])
        }
        let hosts: String
        // --add-host entries before the container's own, as Docker writes them.
        let extraHosts = try (record.hostConfig.ExtraHosts ?? []).map { entry throws(BerthError) in try extraHost(entry) }
        if record.networkMode == .host {
            // Host mode sees the host's /etc/hosts; a host without one gets a minimal file.
            hosts = ((try? String(contentsOfFile: configuration.hostsPath, encoding: .utf8)) ?? ContainerFiles.hosts(hostname: hostname, addresses: [], extra: []))
                + ContainerFiles.entries(extraHosts)
        } else {
            hosts = hostsFile(record, hostname: hostname, endpoints: endpoints, extraHosts: extraHosts)
        }
        try ContainerFiles.write(hosts, to: directory + "/hosts")
        try ContainerFiles.write(hostname + "\n", to: directory + "/hostname")
        try ContainerFiles.write(resolv, to: directory + "/resolv.conf")
    }

    /// /etc/hosts of a container with a network namespace of its own: its names (with
    /// --domainname's FQDN) on its addresses, then --add-host entries and its links. Written at
    /// start and again when its links change, so neither loses the other's lines.
    func hostsFile(_ record: ContainerRecord, hostname: String, endpoints: [EndpointRecord],
                   extraHosts: [(String, String)]) -> String {
        let names = ContainerFiles.hostNames(hostname: hostname, domainname: record.config.Domainname)
        return ContainerFiles.hosts(hostname: names, addresses: endpoints.flatMap(\.addresses).map(\.description),
                                    extra: extraHosts + linkEntries(record, endpoints: endpoints))
    }
}

import BerthCore
import DockerAPI
import Firewall

extension Controller {
    /// Installs berth's whole table for the networks and the running containers' ports.
    func startFirewall() throws(BerthError) {
        let bridges = networks.values.compactMap { drivers.of($0).firewallNetwork($0) }
        var published: [String: [PortMapping]] = [:]
        for record in containers.values where record.isRunning {
            if let ports = record.publishedPorts, !ports.isEmpty { published[record.id] = ports }
        }
        try firewall.start(networks: bridges, published: published, guarded: runningGuardedEndpoints())
    }

    /// The ports a container asks to publish, read and checked at create so bad input is
    /// refused before anything exists: `-p` bindings, and with `-P` every exposed port
    /// without one.
    static func portRequests(_ hostConfig: HostConfig, exposed: [String: EmptyObject]?) throws(BerthError) -> [PortRequest] {
        var requests: [PortRequest] = []
        let bindings = hostConfig.PortBindings ?? [:]
        for (port, list) in bindings.sorted(by: { $0.key < $1.key }) {
            for binding in list.isEmpty ? [PortBinding(HostIp: "", HostPort: "")] : list {
                requests.append(try PortRequest.parse(port: port, hostIP: binding.HostIp, hostPort: binding.HostPort))
            }
        }
        if hostConfig.PublishAllPorts ?? false {
            for port in (exposed ?? [:]).keys.sorted() where bindings[port] == nil {
                requests.append(try PortRequest.parse(port: port, hostIP: nil, hostPort: nil))
            }
        }
        return requests
    }

    /// Docker's `NetworkSettings.Ports`: every exposed or published port, with the host
    /// side while the container runs.
    func portMap(_ record: ContainerRecord) -> [String: [PortBinding]?] {
        var ports: [String: [PortBinding]?] = [:]
        for key in (record.config.ExposedPorts ?? [:]).keys { ports[Self.portKey(key)] = .some(nil) }
        guard record.isRunning else { return ports }
        for key in (record.hostConfig.PortBindings ?? [:]).keys { ports[Self.portKey(key)] = .some(nil) }
        for mapping in record.publishedPorts ?? [] {
            let key = "\(mapping.containerPort)/\(mapping.transport.rawValue)"
            let host = mapping.hostIP?.description ?? (mapping.isIPv6 ? "::" : "0.0.0.0")
            var list = (ports[key] ?? nil) ?? []
            list.append(PortBinding(HostIp: host, HostPort: String(mapping.hostPort)))
            ports[key] = .some(list)
        }
        return ports
    }

    /// `ps`: one entry per published mapping, Docker's shape.
    func portSummaries(_ record: ContainerRecord) -> [PortSummary] {
        guard record.isRunning else { return [] }
        return (record.publishedPorts ?? []).map { mapping in
            PortSummary(IP: mapping.hostIP?.description ?? (mapping.isIPv6 ? "::" : "0.0.0.0"), PrivatePort: Int(mapping.containerPort),
                        PublicPort: Int(mapping.hostPort), Type: mapping.transport.rawValue)
        }
    }

    private static func portKey(_ key: String) -> String { key.contains("/") ? key : key + "/tcp" }
}

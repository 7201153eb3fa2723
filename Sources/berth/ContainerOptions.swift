import ArgumentParser
import DockerAPI
import Foundation

/// The options `run` and `create` share, spelled as Docker spells them.
struct ContainerOptions: ParsableArguments {
    @Option(name: .long, help: "Container name")
    var name: String?
    @Option(name: [.short, .long], help: "Container host name")
    var hostname: String?
    @Option(name: [.customLong("network"), .customLong("net")], help: "bridge, host, none, container:NAME or a network name")
    var network: String?
    @Flag(name: .long, help: "Remove the container when it exits")
    var rm = false
    @Option(name: [.short, .customLong("env")], help: "Set an environment variable (K=V)")
    var env: [String] = []
    @Option(name: .long, help: "IPv4 address on the network")
    var ip: String?
    @Option(name: .long, help: "IPv6 address on the network")
    var ip6: String?
    @Option(name: [.customLong("network-alias"), .customLong("net-alias")], help: "Network-scoped alias")
    var networkAlias: [String] = []
    @Option(name: .customLong("mac-address"), help: "MAC address of the container interface")
    var macAddress: String?
    @Option(name: .long, help: "DNS server")
    var dns: [String] = []
    @Option(name: .customLong("dns-search"), help: "DNS search domain")
    var dnsSearch: [String] = []
    @Option(name: [.customLong("dns-option"), .customLong("dns-opt")], help: "DNS option")
    var dnsOption: [String] = []
    @Option(name: .long, help: "Link to another container (NAME[:ALIAS])")
    var link: [String] = []
    @Option(name: [.short, .customLong("publish")], help: "Publish a port ([HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO])")
    var publish: [String] = []
    @Option(name: .long, help: "Override the image's entrypoint")
    var entrypoint: String?
    @Option(name: [.short, .customLong("workdir")], help: "Working directory inside the container")
    var workdir: String?
    @Option(name: [.short, .long], help: "Set a label (K=V)")
    var label: [String] = []

    @Flag(name: [.short, .long], help: "Keep stdin open; `run` sends its own stdin to the container")
    var interactive = false

    @Argument(help: "Image")
    var image: String
    @Argument(parsing: .captureForPassthrough, help: "Command and its arguments")
    var command: [String] = []

    func request(autoRemove: Bool) throws -> ContainerCreateRequest {
        var config = ContainerConfig(Hostname: hostname, Env: env.isEmpty ? nil : env,
                                     Cmd: command.isEmpty ? nil : command, Image: image,
                                     Entrypoint: entrypoint.map { [$0] }, Labels: try keyValues(label, what: "label"),
                                     WorkingDir: workdir)
        config.MacAddress = macAddress
        if interactive {
            config.OpenStdin = true
            config.StdinOnce = true
            config.AttachStdin = true
        }
        var bindings: [String: [PortBinding]] = [:]
        var exposed: [String: EmptyObject] = [:]
        for spec in publish {
            for (port, binding) in try PortSpec.parse(spec) {
                bindings[port, default: []].append(binding)
                exposed[port] = EmptyObject()
            }
        }
        if !exposed.isEmpty { config.ExposedPorts = exposed }
        let networkMode = network ?? "default"
        var hostConfig = HostConfig(NetworkMode: networkMode, Links: link.isEmpty ? nil : link,
                                    Dns: dns.isEmpty ? nil : dns, DnsSearch: dnsSearch.isEmpty ? nil : dnsSearch,
                                    DnsOptions: dnsOption.isEmpty ? nil : dnsOption, AutoRemove: autoRemove,
                                    PortBindings: bindings.isEmpty ? nil : bindings)
        hostConfig.RestartPolicy = .init()
        var networking: ContainerCreateRequest.Networking?
        if ip != nil || ip6 != nil || !networkAlias.isEmpty || macAddress != nil {
            let key = network ?? "bridge"
            networking = .init(EndpointsConfig: [key: EndpointSettings(
                IPAMConfig: (ip != nil || ip6 != nil) ? .init(IPv4Address: ip, IPv6Address: ip6) : nil,
                Aliases: networkAlias.isEmpty ? nil : networkAlias, MacAddress: macAddress)])
        }
        return ContainerCreateRequest(config: config, HostConfig: hostConfig, NetworkingConfig: networking)
    }
}

func keyValues(_ items: [String], what: String) throws -> [String: String]? {
    guard !items.isEmpty else { return nil }
    var result: [String: String] = [:]
    for item in items {
        let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard let key = parts.first, !key.isEmpty else { throw CLIFailure(message: "invalid \(what) \"\(item)\": expected KEY=VALUE") }
        result[String(key)] = parts.count > 1 ? String(parts[1]) : ""
    }
    return result
}

/// `-p` specs: `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`, with ranges on either side.
enum PortSpec {
    static func parse(_ spec: String) throws -> [(String, PortBinding)] {
        var text = Substring(spec)
        var proto = "tcp"
        if let slash = text.lastIndex(of: "/") {
            proto = String(text[text.index(after: slash)...]).lowercased()
            text = text[..<slash]
            guard ["tcp", "udp", "sctp"].contains(proto) else { throw CLIFailure(message: "invalid port spec \(spec): unknown protocol \(proto)") }
        }
        var hostIP = ""
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw CLIFailure(message: "invalid port spec \(spec)") }
            hostIP = String(text[text.index(after: text.startIndex)..<close])
            text = text[text.index(after: close)...]
            guard text.hasPrefix(":") else { throw CLIFailure(message: "invalid port spec \(spec)") }
            text = text.dropFirst()
        }
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if hostIP.isEmpty && parts.count == 3 { hostIP = parts.removeFirst() }
        guard parts.count == 1 || parts.count == 2 else { throw CLIFailure(message: "invalid port spec \(spec)") }
        let containerPorts = try range(parts[parts.count - 1], spec: spec)
        let hostPorts = parts.count == 2 && !parts[0].isEmpty ? try range(parts[0], spec: spec) : nil
        if let hostPorts, hostPorts.count != containerPorts.count, hostPorts.count != 1 {
            throw CLIFailure(message: "invalid port spec \(spec): host and container port ranges differ in size")
        }
        return containerPorts.enumerated().map { index, port in
            let hostPort: String
            if let hostPorts {
                hostPort = hostPorts.count == 1 && containerPorts.count > 1 ? String(hostPorts[0]) : String(hostPorts[index])
            } else {
                hostPort = ""
            }
            return ("\(port)/\(proto)", PortBinding(HostIp: hostIP, HostPort: hostPort))
        }
    }

    private static func range(_ text: String, spec: String) throws -> [Int] {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds.last ?? ""),
              low >= 1, high <= 65535, low <= high else {
            throw CLIFailure(message: "invalid port spec \(spec): ports are 1-65535")
        }
        return Array(low...high)
    }
}

import BerthCore

/// A port to publish as the user asked for it, before a host port is chosen.
public struct PortRequest: Sendable, Hashable {
    /// nil: every address of the host.
    public var hostIP: IPAddress?
    /// nil: any free port from the ephemeral range; a range: the first free port in it.
    public var hostPorts: ClosedRange<UInt16>?
    public var transport: TransportProtocol
    public var containerPort: UInt16

    public init(hostIP: IPAddress?, hostPorts: ClosedRange<UInt16>?, transport: TransportProtocol, containerPort: UInt16) {
        self.hostIP = hostIP
        self.hostPorts = hostPorts
        self.transport = transport
        self.containerPort = containerPort
    }

    /// Reads one of Docker's `HostConfig.PortBindings` entries: the key is
    /// "PORT[/PROTO]", the binding's HostIp and HostPort may be empty.
    public static func parse(port key: String, hostIP: String?, hostPort: String?) throws(BerthError) -> PortRequest {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let portText = parts.first else { throw .invalid("invalid port specification: \"\(key)\"") }
        let transportText = parts.count == 2 ? parts[1].lowercased() : "tcp"
        guard let transport = TransportProtocol(rawValue: transportText) else {
            throw .invalid("invalid port specification: \"\(key)\": protocol \(transportText) is not supported (tcp or udp)")
        }
        let containerPort = try port(portText, in: key)
        var address: IPAddress?
        if let hostIP, !hostIP.isEmpty {
            let bare = hostIP.hasPrefix("[") && hostIP.hasSuffix("]") ? String(hostIP.dropFirst().dropLast()) : hostIP
            guard let parsed = IPAddress(bare) else { throw .invalid("invalid host IP address \"\(hostIP)\" for port \(key)") }
            // 0.0.0.0 and :: mean "every address", as Docker reads them.
            if parsed != IPAddress.v4(IPv4Address(0)) && parsed != IPAddress.v6(IPv6Address(high: 0, low: 0)) {
                address = parsed
            }
        }
        var hostPorts: ClosedRange<UInt16>?
        if let hostPort, !hostPort.isEmpty, hostPort != "0" {
            let bounds = hostPort.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count <= 2 else { throw .invalid("invalid host port \"\(hostPort)\" for port \(key)") }
            let low = try port(bounds[0], in: hostPort)
            let high = bounds.count == 2 ? try port(bounds[1], in: hostPort) : low
            guard low <= high else { throw .invalid("invalid host port range \"\(hostPort)\": start is after end") }
            hostPorts = low...high
        }
        return PortRequest(hostIP: address, hostPorts: hostPorts, transport: transport, containerPort: containerPort)
    }

    private static func port(_ text: Substring, in spec: String) throws(BerthError) -> UInt16 {
        guard let value = Int(text), value >= 1, value <= 65535 else {
            throw .invalid("invalid port \"\(text)\" in \"\(spec)\": ports are 1 to 65535")
        }
        return UInt16(value)
    }
}

import BerthCore

/// The four maps published ports live in: by family, and by whether a host address is given.
enum PortMap: String, CaseIterable {
    case published4, published4Any = "published4_any", published6, published6Any = "published6_any"

    var type: String {
        switch self {
        case .published4: "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service"
        case .published4Any: "inet_proto . inet_service : ipv4_addr . inet_service"
        case .published6: "ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service"
        case .published6Any: "inet_proto . inet_service : ipv6_addr . inet_service"
        }
    }

    /// The DNAT rule reading the map. A key not in the map ends the rule, not the chain.
    var rule: String {
        switch self {
        case .published4: "dnat ip to ip daddr . meta l4proto . th dport map @\(rawValue)"
        case .published4Any: "dnat ip to meta l4proto . th dport map @\(rawValue)"
        case .published6: "dnat ip6 to ip6 daddr . meta l4proto . th dport map @\(rawValue)"
        case .published6Any: "dnat ip6 to meta l4proto . th dport map @\(rawValue)"
        }
    }

    init(_ mapping: PortMapping) {
        switch (mapping.isIPv6, mapping.hostIP == nil) {
        case (false, false): self = .published4
        case (false, true): self = .published4Any
        case (true, false): self = .published6
        case (true, true): self = .published6Any
        }
    }
}

/// Mappings sorted into their maps, in a stable order.
struct PortGroups {
    private var groups: [PortMap: [PortMapping]] = [:]

    init(_ ports: [PortMapping]) {
        for port in ports { groups[PortMap(port), default: []].append(port) }
    }

    subscript(map: PortMap) -> [PortMapping] { groups[map] ?? [] }

    func commands(_ render: (PortMap, [PortMapping]) -> String) -> String {
        PortMap.allCases.compactMap { map in
            let mappings = self[map]
            return mappings.isEmpty ? nil : render(map, mappings)
        }.map { $0 + "\n" }.joined()
    }
}

extension PortMapping {
    /// The map key: [host address .] protocol . port.
    var key: String {
        let base = "\(transport.rawValue) . \(hostPort)"
        return hostIP.map { "\($0) . \(base)" } ?? base
    }

    /// The map element: key : container address . port.
    var element: String { "\(key) : \(containerIP) . \(containerPort)" }
}

import BerthCore

/// How a container is networked, parsed from `HostConfig.NetworkMode`.
enum NetworkMode: Equatable, Sendable {
    /// Its own namespace, attached to the named networks (bridge-driver networks).
    case networks
    case host
    case none
    /// Shares the namespace of another container (by reference as given).
    case container(String)

    /// "", "default", "bridge" and any network name mean the container gets its own
    /// namespace and interfaces; the first network is the one named here.
    static func parse(_ text: String?) -> (mode: NetworkMode, primaryNetwork: String?) {
        let text = text ?? ""
        switch text {
        case "", "default": return (.networks, "bridge")
        case "host": return (.host, nil)
        case "none": return (.none, nil)
        default:
            if text.hasPrefix("container:") {
                return (.container(String(text.dropFirst("container:".count))), nil)
            }
            return (.networks, text)
        }
    }
}

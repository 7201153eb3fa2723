import BerthCore

/// How a container is networked, from `HostConfig.NetworkMode`; stored in its text form.
enum NetworkMode: Equatable, Sendable, TextCodable {
    /// Its own namespace, attached to networks; `primary` is the first, as the user named it.
    case networks(primary: String)
    case host
    case none
    /// Shares the namespace of another container (by reference as given).
    case container(String)

    /// "", "default", "bridge" and any network name mean the container gets its own
    /// namespace and interfaces.
    init(_ text: String?) {
        let text = text ?? ""
        switch text {
        case "", "default": self = .networks(primary: "bridge")
        case "host": self = .host
        case "none": self = .none
        default:
            if text.hasPrefix("container:") {
                self = .container(String(text.dropFirst("container:".count)))
            } else {
                self = .networks(primary: text)
            }
        }
    }

    init?(text: String) { self.init(text) }

    var description: String {
        switch self {
        case .networks(let primary): primary
        case .host: "host"
        case .none: "none"
        case .container(let reference): "container:" + reference
        }
    }

    /// Whether the container has a namespace of its own that berth made (and removes).
    var ownsSandbox: Bool {
        switch self {
        case .networks, .none: true
        case .host, .container: false
        }
    }

    var joinsNetworks: Bool {
        if case .networks = self { true } else { false }
    }
}

import Firewall

/// Where a container is in its life, with the data that exists only in that state. The
/// passing states (starting, stopping, removing) are what keep two requests from acting
/// on one container at once: an operation checks the state and moves it before its first
/// `await`, inside the controller's actor.
enum ContainerLifecycle: Sendable {
    case created
    /// A start is under way: addresses are reserved, the network and process not yet there.
    case starting
    case running(RunningContainer)
    /// The process is gone (or going) and its network is being taken down.
    case stopping(RunningContainer)
    case exited
    /// `rm` is deleting its runtime state and files.
    case removing

    /// The live process and network: running, or stopping while the exit is processed.
    var running: RunningContainer? {
        switch self {
        case .running(let live), .stopping(let live): live
        case .created, .starting, .exited, .removing: nil
        }
    }

    /// Running and settled: neither starting, stopping nor being removed.
    var isSettledRunning: Bool { if case .running = self { true } else { false } }

    /// Starting, stopping or being removed: another start, stop or change must wait.
    var isPassing: Bool {
        switch self {
        case .starting, .stopping, .removing: true
        case .created, .running, .exited: false
        }
    }

    func status(hasRun: Bool) -> ContainerStatus {
        switch self {
        case .created: .created
        case .starting: hasRun ? .exited : .created
        case .running, .stopping: .running
        case .exited: .exited
        case .removing: .removing
        }
    }

    func storedStatus(hasRun: Bool) -> ContainerStatus {
        switch self {
        case .removing: .exited
        default: status(hasRun: hasRun)
        }
    }
}

/// A running container's process and network.
struct RunningContainer: Sendable {
    var pid: Int32
    /// /proc start time of `pid`, so a reused pid is never mistaken for the container.
    var pidStartTime: UInt64
    /// The bound network namespace file (nil for host mode, or another container's).
    var sandboxPath: String?
    var endpoints: [EndpointRecord]
    /// Published ports with the host ports chosen.
    var publishedPorts: [PortMapping]?
    /// Connects in progress: network ID → the interface name each has taken.
    var connecting: [String: String] = [:]
    /// Interface names whose deletion (a disconnect) is still under way.
    var detaching: Set<String> = []
    /// Frozen by `pause` (runc pause: the cgroup freezer); stored, since it outlives berthd.
    var paused = false
    // Neither is stored: after a restart the kernel's state is what counts.

    /// The lowest ethN that no endpoint, connect or detach in flight uses.
    func freeInterfaceName() -> String {
        let used = Set(endpoints.map(\.interfaceName)).union(connecting.values).union(detaching)
        var index = 0
        while used.contains("eth\(index)") { index += 1 }
        return "eth\(index)"
    }
}

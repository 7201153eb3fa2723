import BerthCore
import DockerAPI

/// `HostConfig.RestartPolicy` checked and parsed, and the decision Docker's restart
/// manager makes when a container's process ends: restart now, after a delay, or not.
/// Pure, so every rule is unit-tested without processes.
struct RestartPolicy: Equatable, Sendable {
    enum Kind: String, Sendable {
        case no, always, onFailure = "on-failure", unlessStopped = "unless-stopped"
    }

    var kind: Kind
    /// on-failure only; 0 means no limit, as in Docker.
    var maximumRetryCount: Int

    static let none = RestartPolicy(kind: .no, maximumRetryCount: 0)

    /// First delay, its growth and its cap, as Docker's restart manager.
    static let initialDelay = Duration.milliseconds(100)
    static let maximumDelay = Duration.seconds(60)
    /// A container that ran at least this long starts the backoff again from the first delay.
    static let steadyRun = Duration.seconds(10)

    /// The policy a stored host config asks for. Create validated it; an older record with
    /// something unreadable counts as no policy rather than failing every exit.
    init(_ hostConfig: HostConfig) {
        self = (try? Self.parse(hostConfig.RestartPolicy)) ?? .none
    }

    init(kind: Kind, maximumRetryCount: Int) {
        self.kind = kind
        self.maximumRetryCount = maximumRetryCount
    }

    /// Docker's validation (daemon's validateRestartPolicy), with its messages. An empty
    /// name is "no", accepted with any count as Docker does for clients before API 1.44.
    static func parse(_ policy: HostConfig.RestartPolicy?) throws(BerthError) -> RestartPolicy {
        let name = policy?.Name ?? ""
        let count = policy?.MaximumRetryCount ?? 0
        if name.isEmpty { return .none }
        guard let kind = Kind(rawValue: name) else {
            throw .invalid("invalid restart policy: unknown policy '\(name)'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'")
        }
        switch kind {
        case .onFailure:
            if count < 0 { throw .invalid("invalid restart policy: maximum retry count cannot be negative") }
        case .no, .always, .unlessStopped:
            if count != 0 {
                throw .invalid("invalid restart policy: maximum retry count can only be used with 'on-failure'"
                               + (count < 0 ? " and cannot be negative" : ""))
            }
        }
        return RestartPolicy(kind: kind, maximumRetryCount: count)
    }

    /// Create's check of the whole host config: a policy, and not together with AutoRemove.
    static func validate(_ hostConfig: HostConfig) throws(BerthError) {
        let policy = try parse(hostConfig.RestartPolicy)
        if hostConfig.AutoRemove ?? false, policy.kind != .no {
            throw .invalid("can't create 'AutoRemove' container with restart policy")
        }
    }

    /// What happens when a container's process ended.
    enum Decision: Equatable, Sendable {
        case stayStopped
        case restart(after: Duration)
    }

    /// The facts a decision rests on.
    struct Exit: Sendable {
        var exitCode: Int32
        /// Restarts by policy since the user last started it.
        var restartCount: Int
        /// The user stopped or killed it (`stop`, `kill`, `rm -f`).
        var manuallyStopped: Bool
        /// How long the process ran before it ended.
        var ranFor: Duration
        /// The previous delay of this run of restarts (nil: none yet, or the daemon just started).
        var previousDelay: Duration?
        /// The decision is taken at daemon start for a container not running then.
        var atDaemonStart: Bool
    }

    /// Docker's rules: at run time a user's stop or kill ends every policy; at daemon start
    /// `always` comes back even after one, `unless-stopped` does not. on-failure restarts a
    /// non-zero exit while fewer than MaximumRetryCount restarts were made (0: no limit).
    /// The delay starts at 100 ms and doubles up to a minute; a run of 10 s or more
    /// starts it over. At daemon start the restart is immediate.
    func decide(_ exit: Exit) -> Decision {
        let restart: Bool
        switch kind {
        case .no:
            restart = false
        case .always:
            restart = exit.atDaemonStart || !exit.manuallyStopped
        case .unlessStopped:
            restart = !exit.manuallyStopped
        case .onFailure:
            let underLimit = maximumRetryCount == 0 || exit.restartCount < maximumRetryCount
            restart = (exit.atDaemonStart || !exit.manuallyStopped) && underLimit && exit.exitCode != 0
        }
        guard restart else { return .stayStopped }
        if exit.atDaemonStart { return .restart(after: .zero) }
        return .restart(after: Self.nextDelay(after: exit.previousDelay, ranFor: exit.ranFor))
    }

    static func nextDelay(after previous: Duration?, ranFor: Duration) -> Duration {
        guard let previous, ranFor < steadyRun else { return initialDelay }
        return min(previous * 2, maximumDelay)
    }
}

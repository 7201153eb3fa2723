import BerthCore
import DockerAPI
import Firewall

/// A container as persisted under `containers/<id>`: what it was created with, what has
/// happened to it (times, exit code, error) and its lifecycle state.
struct ContainerRecord: Sendable {
    var id: String
    var name: String
    var created: String
    var imageReference: String
    var imageID: String
    var config: ContainerConfig
    var hostConfig: HostConfig
    /// Stored as Docker writes it: a network name ("bridge"), "host", "none" or "container:<id>".
    var networkMode: NetworkMode
    var attachments: [NetworkAttachment]
    var state: ContainerLifecycle
    var exitCode: Int32
    var error: String
    var startedAt: String
    var finishedAt: String
    /// Restarts by its restart policy since the user last started it (inspect's RestartCount).
    var restartCount = 0
    /// The user stopped or killed it: its restart policy does not bring it back (but
    /// `always` does at the next daemon start, as in Docker).
    var manuallyStopped = false
    /// Exited, with a restart by policy scheduled (status "restarting"). Not stored: the
    /// next daemon start decides again.
    var restartPending = false

    var storeKey: String { StoreKeys.container(id) }
    var shortID: String { String(id.prefix(12)) }
    /// The command the container runs: entrypoint then cmd.
    var command: [String] { (config.Entrypoint ?? []) + (config.Cmd ?? []) }

    // What the live process and its network are, while there is one.
    var running: RunningContainer? { state.running }
    /// Running, including while its exit is being processed: its process may still be there.
    var isRunning: Bool { state.running != nil }
    var pid: Int32 { running?.pid ?? 0 }
    var pidStartTime: UInt64 { running?.pidStartTime ?? 0 }
    var sandboxPath: String? { running?.sandboxPath }
    var endpoints: [EndpointRecord] { running?.endpoints ?? [] }
    var publishedPorts: [PortMapping]? { running?.publishedPorts }
    /// The state as Docker's API names it.
    var status: ContainerStatus {
        if restartPending, case .exited = state { return .restarting }
        if case .running(let live) = state, live.paused { return .paused }
        return state.status(hasRun: startedAt != Self.neverTime)
    }
    var isPaused: Bool { running?.paused ?? false }

    static let neverTime = "0001-01-01T00:00:00Z"
}

/// Docker's names for a container's state.
enum ContainerStatus: String, Codable, Sendable {
    case created, running, exited, removing
    /// Shown, never stored: a running container that is frozen, an exited one about to restart.
    case paused, restarting
}

/// The record on disk keeps the flat layout of earlier berths (status, pid, endpoints...
/// side by side), so their records load and older ones can read ours.
extension ContainerRecord: Codable {
    private enum CodingKeys: String, CodingKey {
        case id, name, created, imageReference, imageID, config, hostConfig, networkMode, attachments
        case status, pid, pidStartTime, exitCode, error, startedAt, finishedAt, sandboxPath, endpoints, publishedPorts
        // Added later: absent in older records.
        case restartCount, manuallyStopped, paused
    }

    init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        id = try values.decode(String.self, forKey: .id)
        name = try values.decode(String.self, forKey: .name)
        created = try values.decode(String.self, forKey: .created)
        imageReference = try values.decode(String.self, forKey: .imageReference)
        imageID = try values.decode(String.self, forKey: .imageID)
        config = try values.decode(ContainerConfig.self, forKey: .config)
        hostConfig = try values.decode(HostConfig.self, forKey: .hostConfig)
        networkMode = try values.decode(NetworkMode.self, forKey: .networkMode)
        attachments = try values.decode([NetworkAttachment].self, forKey: .attachments)
        exitCode = try values.decode(Int32.self, forKey: .exitCode)
        error = try values.decode(String.self, forKey: .error)
        startedAt = try values.decode(String.self, forKey: .startedAt)
        finishedAt = try values.decode(String.self, forKey: .finishedAt)
        restartCount = try values.decodeIfPresent(Int.self, forKey: .restartCount) ?? 0
        manuallyStopped = try values.decodeIfPresent(Bool.self, forKey: .manuallyStopped) ?? false
        switch try values.decode(ContainerStatus.self, forKey: .status) {
        case .created: state = .created
        // A removal that did not finish leaves the container exited, for another `rm`.
        case .exited, .removing, .restarting: state = .exited
        case .running, .paused:
            state = .running(RunningContainer(
                pid: try values.decode(Int32.self, forKey: .pid),
                pidStartTime: try values.decode(UInt64.self, forKey: .pidStartTime),
                sandboxPath: try values.decodeIfPresent(String.self, forKey: .sandboxPath),
                endpoints: try values.decodeIfPresent([EndpointRecord].self, forKey: .endpoints) ?? [],
                publishedPorts: try values.decodeIfPresent([PortMapping].self, forKey: .publishedPorts),
                paused: try values.decodeIfPresent(Bool.self, forKey: .paused) ?? false))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(id, forKey: .id)
        try values.encode(name, forKey: .name)
        try values.encode(created, forKey: .created)
        try values.encode(imageReference, forKey: .imageReference)
        try values.encode(imageID, forKey: .imageID)
        try values.encode(config, forKey: .config)
        try values.encode(hostConfig, forKey: .hostConfig)
        try values.encode(networkMode, forKey: .networkMode)
        try values.encode(attachments, forKey: .attachments)
        // Passing states are stored as where they come from: a crash mid-start leaves the
        // container as it was, a crash mid-exit leaves it running for reconciliation.
        try values.encode(state.storedStatus(hasRun: startedAt != Self.neverTime), forKey: .status)
        try values.encode(pid, forKey: .pid)
        try values.encode(pidStartTime, forKey: .pidStartTime)
        try values.encode(exitCode, forKey: .exitCode)
        try values.encode(error, forKey: .error)
        try values.encode(startedAt, forKey: .startedAt)
        try values.encode(finishedAt, forKey: .finishedAt)
        try values.encodeIfPresent(sandboxPath, forKey: .sandboxPath)
        try values.encode(endpoints, forKey: .endpoints)
        try values.encodeIfPresent(publishedPorts, forKey: .publishedPorts)
        // Written only when set, so a record without them keeps the earlier layout.
        if restartCount != 0 { try values.encode(restartCount, forKey: .restartCount) }
        if manuallyStopped { try values.encode(true, forKey: .manuallyStopped) }
        if isPaused { try values.encode(true, forKey: .paused) }
    }
}

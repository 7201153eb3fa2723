import BerthCore
import ContainerRuntime
import DockerAPI
import Foundation

/// Emitting Docker events (`GET /events`) where things happen, with Docker's attributes
/// (moby's `LogContainerEventWithAttributes`, `LogNetworkEventWithAttributes`,
/// `LogImageEvent`). Each call site is one line, after the change succeeded.
extension Controller {
    /// Any event; the typed helpers below add what Docker puts in each kind.
    nonisolated func emit(_ type: String, _ action: String, actor id: String, attributes: [String: String] = [:]) {
        eventLog.record(type: type, action: action, actor: EventActor(ID: id, Attributes: attributes))
    }

    /// A container event: its labels, `image` (as the user named it) and `name`, then `extra`.
    nonisolated func emit(container record: ContainerRecord, _ action: String, _ extra: [String: String] = [:]) {
        var attributes = record.config.Labels ?? [:]
        attributes["image"] = record.config.Image ?? record.imageReference
        attributes["name"] = record.name
        attributes.merge(extra) { _, added in added }
        emit(EventType.container, action, actor: record.id, attributes: attributes)
    }

    /// A container event by ID, for callers that hold no record (a restart's route).
    func emit(containerID id: String, _ action: String, _ extra: [String: String] = [:]) {
        if let record = containers[id] { emit(container: record, action, extra) }
    }

    /// A network event: `name` and `type` (its driver), then `extra` (`container` for connects).
    nonisolated func emit(network record: NetworkRecord, _ action: String, _ extra: [String: String] = [:]) {
        var attributes = extra
        attributes["name"] = record.name
        attributes["type"] = record.driver
        emit(EventType.network, action, actor: record.id, attributes: attributes)
    }

    /// An image event: `name` is the reference it concerns (the ID for import and delete).
    nonisolated func emitImage(_ action: String, id: String, name: String) {
        emit(EventType.image, action, actor: id, attributes: ["name": name])
    }

    /// An import under a name: `tag` with that name, then `import` (named by its ID), as Docker.
    nonisolated func emitImported(_ image: ImageRecord, name: String) {
        if !name.isEmpty { emitImage("tag", id: image.id, name: name) }
        emitImage("import", id: image.id, name: image.id)
    }

    /// An image removal: `untag` for each name taken off, then `delete` if it went.
    nonisolated func emitRemoved(_ removal: ImageRemoval, id: String) {
        for name in removal.untagged { emitImage("untag", id: id, name: name) }
        for deleted in removal.deleted { emitImage("delete", id: deleted, name: deleted) }
    }

    /// `exec_create: CMD ARGS` as Docker spells it: the executable, a space, the arguments
    /// joined by spaces (so a bare command keeps a trailing space).
    static func execAction(_ action: String, _ command: [String]) -> String {
        "\(action): \(command.first ?? "") \(command.dropFirst().joined(separator: " "))"
    }

    /// A started container's networks joined, then `start`: Docker's order.
    func emitStarted(_ record: ContainerRecord) {
        for network in joinedNetworks(record, endpoints: record.endpoints) {
            emit(network: network, "connect", ["container": record.id])
        }
        emit(container: record, "start")
    }

    /// An exited container's networks left, then `die` with its exit code and how long it
    /// ran in whole seconds: Docker's order (its cleanup comes before the event).
    func emitDied(_ record: ContainerRecord, endpoints: [EndpointRecord], exitCode: Int32) {
        for network in joinedNetworks(record, endpoints: endpoints) {
            emit(network: network, "disconnect", ["container": record.id])
        }
        let ran = Self.date(record.startedAt).map { max(0, Date().timeIntervalSince($0)) } ?? 0
        let seconds = ran < Double(Int.max) ? Int(ran) : Int.max
        emit(container: record, "die", ["exitCode": String(exitCode), "execDuration": String(seconds)])
    }

    /// The networks a running container is on: those of its interfaces, or the host or
    /// none network for those modes (Docker connects to them too); a container sharing
    /// another's namespace joins none.
    private func joinedNetworks(_ record: ContainerRecord, endpoints: [EndpointRecord]) -> [NetworkRecord] {
        if record.networkMode.joinsNetworks { return endpoints.compactMap { networks[$0.networkID] } }
        return networks.values.filter { drivers.of($0).containerMode == record.networkMode }
    }

    /// Sends a signal to a container's process and, once sent, logs Docker's `kill`.
    func sendSignal(_ record: ContainerRecord, _ signal: Int32) throws {
        try runtime.signal(id: record.id, pid: record.pid, signal: signal)
        emit(container: record, "kill", ["signal": String(signal)])
    }
}

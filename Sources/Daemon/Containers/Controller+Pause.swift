import BerthCore
import ContainerRuntime
import Foundation

extension Controller {
    /// `pause`: freezes the container's processes (runc pause). Marked paused before the
    /// `await`, so a second pause or an unpause in between sees it; undone if runc fails.
    func pauseContainer(_ reference: String) async throws {
        let record = try container(reference)
        if record.restartPending {
            throw BerthError.conflict("Container \(record.id) is restarting, wait until the container is running")
        }
        guard case .running(var live) = record.state else {
            throw BerthError.conflict("Container \(record.id) is not running")
        }
        guard !live.paused else { throw BerthError.conflict("Container \(record.id) is already paused") }
        live.paused = true
        containers[record.id]?.state = .running(live)
        do {
            try await runtime.pause(id: record.id)
        } catch {
            setPaused(record.id, pid: live.pid, false)
            throw error
        }
        if let paused = containers[record.id], paused.isPaused { saveOrKeepInMemory(paused, doing: "pause") }
        if let paused = containers[record.id] { emit(container: paused, "pause") }
    }

    /// `unpause`: thaws it (runc resume).
    func unpauseContainer(_ reference: String) async throws {
        let record = try container(reference)
        guard case .running(let live) = record.state, live.paused else {
            throw BerthError.conflict("Container \(record.id) is not paused")
        }
        try await thaw(record.id, pid: live.pid)
        if let thawed = containers[record.id] { emit(container: thawed, "unpause") }
    }

    /// A stop, kill or rm of a paused container: the signal is sent first, then the
    /// container is thawed so its processes receive it, as Docker does.
    func thawAfterSignal(_ id: String) async throws {
        guard let record = containers[id], case .running(let live) = record.state, live.paused else { return }
        try await thaw(id, pid: live.pid)
    }

    private func thaw(_ id: String, pid: Int32) async throws {
        setPaused(id, pid: pid, false)
        do {
            try await runtime.resume(id: id)
        } catch {
            setPaused(id, pid: pid, true)
            throw error
        }
        if let thawed = containers[id], thawed.isRunning { saveOrKeepInMemory(thawed, doing: "unpause") }
    }

    /// Changes the flag of the same process only: one that exited meanwhile is left as it is.
    private func setPaused(_ id: String, pid: Int32, _ paused: Bool) {
        guard case .running(var live) = containers[id]?.state, live.pid == pid else { return }
        live.paused = paused
        containers[id]?.state = .running(live)
    }
}

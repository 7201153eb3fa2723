import BerthCore
import Foundation

/// Restarts by policy that are waiting for their delay, and the backoff each container is
/// at. In memory only: a daemon start decides afresh for every container not running.
struct RestartSchedule: Sendable {
    var timers: [String: Task<Void, Never>] = [:]
    /// The delay of the latest restart, doubled by the next one while runs stay short.
    var delays: [String: Duration] = [:]
}

extension Controller {
    /// Called once a container's exit is recorded (or, at daemon start, for every container
    /// not running): asks its policy, and schedules the restart it calls for.
    func applyRestartPolicy(_ id: String, atDaemonStart: Bool) {
        guard var record = containers[id], case .exited = record.state, !record.restartPending else { return }
        let policy = RestartPolicy(record.hostConfig)
        guard policy.kind != .no else { return }
        let ran = Self.date(record.finishedAt).flatMap { end in Self.date(record.startedAt).map { end.timeIntervalSince($0) } } ?? 0
        let decision = policy.decide(RestartPolicy.Exit(
            exitCode: record.exitCode, restartCount: record.restartCount, manuallyStopped: record.manuallyStopped,
            ranFor: .milliseconds(Int64(max(0, min(ran, 1e9)) * 1000)),
            previousDelay: atDaemonStart ? nil : restarts.delays[id], atDaemonStart: atDaemonStart))
        guard case .restart(let delay) = decision else {
            restarts.delays[id] = nil
            return
        }
        if delay > .zero { restarts.delays[id] = delay }
        record.restartPending = true
        // Counted when decided, as Docker's RestartCount; a daemon start's restart is a
        // fresh start, as Docker's (count and manual stop reset).
        if !atDaemonStart { record.restartCount += 1 }
        saveOrKeepInMemory(record, doing: "restart count")
        logger.info("restarting container by its policy", metadata: [
            "name": .string(record.name), "policy": .string(policy.kind.rawValue), "delay": .string("\(delay)")])
        restarts.timers[id]?.cancel()
        restarts.timers[id] = Task { [weak self] in
            // Cancelled means a stop, kill or rm took the restart back.
            do { try await Task.sleep(for: delay) } catch { return }
            await self?.restartByPolicy(id, atDaemonStart: atDaemonStart)
        }
    }

    private func restartByPolicy(_ id: String, atDaemonStart: Bool) async {
        restarts.timers[id] = nil
        guard let record = containers[id], record.restartPending, case .exited = record.state else { return }
        do {
            try await startContainer(id, byRestartPolicy: !atDaemonStart)
        } catch {
            // As Docker: a restart that fails leaves the container stopped.
            if var failed = containers[id] {
                failed.restartPending = false
                saveOrKeepInMemory(failed, doing: "failed restart")
            }
            logger.error("restart by policy failed", metadata: ["name": .string(record.name), "error": .string("\(error)")])
        }
    }

    /// A stop, kill or rm of a container waiting to restart: the restart is called off.
    /// True if one was pending.
    @discardableResult
    func cancelPendingRestart(_ id: String, manually: Bool) -> Bool {
        // A restart already under way (starting) is not taken back: the stop then finds
        // it running, or not yet, as with any start in flight.
        guard var record = containers[id], record.restartPending, case .exited = record.state else { return false }
        restarts.timers.removeValue(forKey: id)?.cancel()
        record.restartPending = false
        if manually { record.manuallyStopped = true }
        saveOrKeepInMemory(record, doing: "cancelled restart")
        return true
    }

    /// The user stopped or killed a running container: its policy must not bring it back.
    func markManuallyStopped(_ id: String) {
        guard var record = containers[id], !record.manuallyStopped else { return }
        record.manuallyStopped = true
        saveOrKeepInMemory(record, doing: "manual stop")
    }

    /// berthd is stopping: no restart may begin while it goes down.
    func cancelRestarts() {
        for timer in restarts.timers.values { timer.cancel() }
        restarts.timers = [:]
    }

    /// The backoff is per run of restarts: a container removed forgets it.
    func forgetRestarts(_ id: String) {
        restarts.timers.removeValue(forKey: id)?.cancel()
        restarts.delays[id] = nil
    }
}

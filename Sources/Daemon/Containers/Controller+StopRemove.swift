import BerthCore
import ContainerRuntime
import Foundation

extension Controller {
    /// Waits until the container is not running, or the deadline passes; true if it stopped.
    func waitUntilStopped(_ id: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while let record = containers[id], record.isRunning {
            if ContinuousClock.now >= deadline { return false }
            // The exit is processed within a millisecond or so: poll at that grain.
            try? await Task.sleep(for: .milliseconds(1))
        }
        return true
    }

    /// `stop`: the container's stop signal (`--stop-signal`, SIGTERM by default), then
    /// SIGKILL after the timeout (`-t`, else `--stop-timeout`, else 10 s; -1 waits for
    /// ever). `docker stop -s` overrides the signal. Returns false if it was not running.
    func stopContainer(_ reference: String, timeout: Int?, signal: Int32? = nil) async throws -> Bool {
        let record = try container(reference)
        if cancelPendingRestart(record.id, manually: true) { return true }
        guard record.isRunning else { return false }
        markManuallyStopped(record.id)
        let requested = timeout ?? record.config.StopTimeout ?? 10
        // Checked at create; a record from before then falls back to SIGTERM.
        let stopSignal = signal ?? (try? Signals.parse(record.config.StopSignal.flatMap { $0.isEmpty ? nil : $0 } ?? "TERM")) ?? SIGTERM
        if requested != 0 {
            // A process that is already gone fails the signal: the wait below sees it exited.
            try? sendSignal(record, stopSignal)
            try? await thawAfterSignal(record.id)  // a paused one gets the signal once thawed
            // A year stands for "for ever" and keeps the deadline's arithmetic in range.
            let seconds = requested < 0 ? Self.yearInSeconds : min(requested, Self.yearInSeconds)
            if await waitUntilStopped(record.id, timeout: .seconds(seconds)) { return try stopped(record) }
        }
        try? sendSignal(record, SIGKILL)  // as above
        try? await thawAfterSignal(record.id)
        if await waitUntilStopped(record.id, timeout: .seconds(30)) { return try stopped(record) }
        throw BerthError(.internal, "container \(record.name) did not stop after SIGKILL")
    }

    static let yearInSeconds = 365 * 86_400

    /// A stop that worked but whose record did not reach the disk says so.
    private func stopped(_ record: ContainerRecord) throws -> Bool {
        if let error = exitWaiters.unrecordedExit(of: record.id) {
            throw BerthError(.internal, "container \(record.name) stopped, but its exit could not be recorded: \(error)")
        }
        emit(container: record, "stop")
        return true
    }

    func killContainer(_ reference: String, signal: Int32) async throws {
        let record = try container(reference)
        if cancelPendingRestart(record.id, manually: true) { return }
        guard record.isRunning else { throw BerthError.conflict("container \(record.name) is not running") }
        markManuallyStopped(record.id)
        try sendSignal(record, signal)
        try await thawAfterSignal(record.id)
    }

    /// `rm`: kills a running container when forced, then removes its runtime state, its
    /// directory and last its record. Each step can be retried, so a step that fails (a full
    /// or read-only root) fails the call with its reason and leaves the container listed,
    /// exited, for another `rm` once the disk is fixed: no directory is ever left without a
    /// record that accounts for it.
    func removeContainer(_ reference: String, force: Bool) async throws {
        let record = try container(reference)
        if record.restartPending {
            guard force else {
                throw BerthError.conflict("cannot remove container \"/\(record.name)\": container is restarting: stop the container before removing or force remove")
            }
            cancelPendingRestart(record.id, manually: true)
        }
        if record.isRunning {
            guard force else {
                throw BerthError.conflict("cannot remove container \"/\(record.name)\": container is running: stop the container before removing or force remove")
            }
            markManuallyStopped(record.id)
            try sendSignal(record, SIGKILL)
            try? await thawAfterSignal(record.id)  // SIGKILL reaches a frozen process once thawed
            guard await waitUntilStopped(record.id, timeout: .seconds(30)) else {
                throw BerthError(.internal, "container \(record.name) did not stop after SIGKILL")
            }
        }
        guard let current = containers[record.id] else { return }  // auto-removed meanwhile
        guard !current.state.isPassing, !current.isRunning else {
            throw BerthError.conflict("container \(record.name) is already starting, stopping or being removed")
        }
        let previous = current.state
        containers[record.id]?.state = .removing
        let directory = configuration.containerDir(record.id)
        do {
            // runc's state first: what it fails to remove would keep the files busy.
            try await runtime.destroy(id: record.id, directory: directory, removingRoot: true)
            try ContainerFiles.removeTree(directory)
            try store.delete(record.storeKey)
        } catch {
            containers[record.id]?.state = previous
            // Anyone waiting for the removal gets the exit code now: the container stays exited.
            exitWaiters.resume(record.id, exitCode: record.exitCode)
            throw BerthError(.internal, "cannot remove container \(record.name): \(error)")
        }
        forget(containerID: record.id)
        forgetRestarts(record.id)
        emit(container: record, "destroy")
        exitWaiters.recorded(record.id)
        exitWaiters.resume(record.id, exitCode: record.exitCode)
    }

    /// Saves a container's record; when the write fails (a full or read-only root) the
    /// daemon still shows what is true now, since the kernel and runc already changed, and
    /// the failure is logged and returned. A restart reconciles the stored record.
    @discardableResult
    func saveOrKeepInMemory(_ record: ContainerRecord, doing what: String) -> BerthError? {
        do {
            try save(record)
            return nil
        } catch {
            remember(record)
            logger.error("cannot record \(what)", metadata: ["id": .string(record.id), "error": .string("\(error)")])
            return error
        }
    }
}

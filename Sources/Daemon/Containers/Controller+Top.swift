import BerthCore
import ContainerRuntime

extension Controller {
    /// `top`: the host's ps with the caller's `ps_args` (Docker's default "-ef"), kept to
    /// the pids in the container's cgroup. ps runs on the host rather than inside the
    /// container because the image may have no ps at all, and its columns and options
    /// are then the host's, as with Docker.
    func top(_ reference: String, psArgs: String?) async throws -> ProcessTable {
        let record = try container(reference)
        if record.restartPending {
            throw BerthError.conflict("Container \(record.id) is restarting, wait until the container is running")
        }
        guard record.state.isSettledRunning else { throw BerthError.conflict("Container \(record.id) is not running") }
        let table = try await runtime.top(id: record.id, psArguments: ProcessTable.arguments(psArgs))
        emit(container: record, "top")
        return table
    }
}

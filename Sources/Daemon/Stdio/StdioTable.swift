import BerthCore
import ContainerRuntime
import Dispatch
import Foundation
import Synchronization

/// The container ends of a run's stdio, made before runc starts it: runc passes them on,
/// and the caller closes them once the launch returned. berthd's ends are opened at the same
/// time, so output of a container that exits at once waits in the FIFO instead of being lost.
struct PreparedStdio: Sendable {
    var container = LaunchStdio()
    var daemon = RunDescriptors()

    func closeContainerSide() {
        for fd in [container.stdin, container.stdout, container.stderr] where fd >= 0 { close(fd) }
    }

    func closeAll() {
        closeContainerSide()
        for fd in [daemon.stdin, daemon.stdout, daemon.stderr, daemon.terminal] where fd >= 0 { close(fd) }
    }
}

/// Every container's `ContainerStdio`, made on first use (an attach before the first start).
final class StdioTable: Sendable {
    private let table = Mutex<[String: ContainerStdio]>([:])
    private let queue = DispatchQueue(label: "berth.stdio")
    /// One thread reads every container's output.
    private let poller = OutputPoller()

    func of(_ id: String, directory: String) -> ContainerStdio {
        table.withLock { table in
            if let existing = table[id] { return existing }
            let made = ContainerStdio(id: id, directory: directory, queue: queue, poller: poller)
            table[id] = made
            return made
        }
    }

    func existing(_ id: String) -> ContainerStdio? { table.withLock { $0[id] } }

    func isCapturing(_ id: String) -> Bool { existing(id)?.isCapturing ?? false }

    /// The container is gone (rm): clients waiting for a run end now; a run still being
    /// read (auto-remove right after the exit) ends at its EOF, so no output is cut off.
    func forget(_ id: String) {
        let removed = table.withLock { $0.removeValue(forKey: id) }
        if let removed, !removed.isCapturing { removed.finish() }
    }

    /// Opens the FIFOs for a start. A TTY run has no FIFOs: its terminal comes from runc.
    static func prepare(directory: String, tty: Bool, openStdin: Bool) throws(BerthError) -> PreparedStdio {
        var prepared = PreparedStdio()
        prepared.container.terminal = tty
        guard !tty else { return prepared }
        do {
            StdioFifos.remove(in: directory)  // a new run starts with empty pipes
            prepared.container.stdout = try StdioFifos.openContainerOutput(directory + "/" + StdioFifos.stdoutName)
            prepared.daemon.stdout = try StdioFifos.openDaemonOutput(directory + "/" + StdioFifos.stdoutName)
            prepared.container.stderr = try StdioFifos.openContainerOutput(directory + "/" + StdioFifos.stderrName)
            prepared.daemon.stderr = try StdioFifos.openDaemonOutput(directory + "/" + StdioFifos.stderrName)
            if openStdin {
                let ends = try StdioFifos.openStdin(directory + "/" + StdioFifos.stdinName)
                prepared.container.stdin = ends.container
                prepared.daemon.stdin = ends.daemon
            }
        } catch {
            prepared.closeAll()
            throw error
        }
        return prepared
    }

    /// After a daemon restart: berthd's ends of a still running container's stdio again.
    /// nil pieces stay nil (a holder that is gone means no stdin, or a terminal nobody reads).
    static func reopen(directory: String, tty: Bool, openStdin: Bool) -> RunDescriptors {
        var descriptors = RunDescriptors()
        let holder = ContainerStdio.readHolder(directory: directory)
        let held = holder?.reclaim()
        descriptors.holder = held == nil ? nil : holder
        if tty {
            descriptors.terminal = held ?? -1
            if openStdin, let held { descriptors.stdin = held }
        } else {
            descriptors.stdout = (try? StdioFifos.openDaemonOutput(directory + "/" + StdioFifos.stdoutName)) ?? -1
            descriptors.stderr = (try? StdioFifos.openDaemonOutput(directory + "/" + StdioFifos.stderrName)) ?? -1
            if openStdin, let held { descriptors.stdin = held }
        }
        return descriptors
    }
}

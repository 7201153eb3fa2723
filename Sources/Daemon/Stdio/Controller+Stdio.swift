import BerthCore
import ContainerRuntime
import DockerAPI
import Foundation

extension Controller {
    /// Launches with the container's stdio: FIFOs (or a terminal), capture into the log,
    /// a holder for what must outlive berthd (the terminal, or stdin's write end).
    func launchCapturingOutput(_ spec: LaunchSpec, config: ContainerConfig) async throws -> LaunchedProcess {
        let tty = config.Tty ?? false
        let openStdin = config.OpenStdin ?? false
        let size = try ConsoleSize.check(hostConfigConsoleSize(spec.id))
        let prepared = try StdioTable.prepare(directory: spec.directory, tty: tty, openStdin: openStdin)
        var spec = spec
        spec.stdio = prepared.container
        let process: LaunchedProcess
        do {
            process = try await runtime.launch(spec)
        } catch {
            prepared.closeAll()
            throw error
        }
        prepared.closeContainerSide()
        var descriptors = prepared.daemon
        var held: Int32 = -1
        if process.terminal >= 0 {
            if let size { _ = setWindowSize(process.terminal, rows: size.height, columns: size.width) }
            descriptors.terminal = process.terminal
            if openStdin { descriptors.stdin = process.terminal }
            held = process.terminal
        } else if descriptors.stdin >= 0 {
            held = descriptors.stdin
        }
        if held >= 0 {
            do {
                let holder = try DescriptorHolder.start(holding: held, whileAlive: process.pid)
                runtime.watch(pid: holder.pid, startTime: holder.startTime) { _ in }  // reaps it
                descriptors.holder = holder
            } catch {
                logger.warning("no holder for the container's terminal or stdin: it ends if berthd stops",
                               metadata: ["id": .string(String(spec.id.prefix(12))), "error": .string("\(error)")])
            }
        }
        stdio.of(spec.id, directory: spec.directory).begin(descriptors, tty: tty)
        return process
    }

    private func hostConfigConsoleSize(_ id: String) -> [UInt16]? { containers[id]?.hostConfig.ConsoleSize }

    /// After a restart: capture a still running container's output again.
    func resumeCapture(_ record: ContainerRecord) {
        let directory = configuration.containerDir(record.id)
        let tty = record.config.Tty ?? false
        let descriptors = StdioTable.reopen(directory: directory, tty: tty, openStdin: record.config.OpenStdin ?? false)
        if let holder = descriptors.holder {
            runtime.watch(pid: holder.pid, startTime: holder.startTime) { _ in }
        }
        stdio.of(record.id, directory: directory).begin(descriptors, tty: tty)
    }

    /// The stdio of a container, made if it has none yet (attach before start).
    func stdio(of reference: String) throws(BerthError) -> (record: ContainerRecord, stdio: ContainerStdio) {
        let record = try container(reference)
        return (record, stdio.of(record.id, directory: configuration.containerDir(record.id)))
    }
}

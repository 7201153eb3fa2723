import BerthCore
import ContainerRuntime
import Foundation
import HTTPUnix
import Synchronization

extension Controller {
    func execRecord(_ id: String) throws(BerthError) -> ExecRecord {
        guard let exec = execs[id] else { throw BerthError.notFound("No such exec instance: \(id)") }
        return exec
    }

    /// `exec -t`: marks the exec started and launches it on a terminal. The exit code is
    /// recorded when the process is gone, whoever listens.
    func startTerminalExec(_ id: String) async throws -> Int32 {
        guard var exec = execs[id] else { throw BerthError.notFound("No such exec instance: \(id)") }
        guard !exec.started else { throw BerthError.conflict("exec \(id) has already been started") }
        guard isRunning(exec.containerID) else { throw BerthError.conflict("container \(exec.containerID) is not running") }
        exec.started = true
        exec.running = true
        execs[id] = exec
        do {
            let (pid, master) = try await runtime.execTerminal(id: exec.containerID, args: exec.command,
                                                               env: exec.environment, workingDirectory: exec.workingDirectory,
                                                               user: exec.user)
            execs[id]?.pid = pid
            runtime.watch(pid: pid, startTime: nil) { [weak self] code in
                Task { await self?.finishExec(id, exitCode: code) }
            }
            return master
        } catch {
            execs[id]?.running = false
            execs[id]?.exitCode = 126
            throw error
        }
    }

    /// Refuses a resize of an exec that has no running terminal.
    func checkResizable(_ id: String) throws(BerthError) {
        guard let exec = execs[id] else { throw BerthError.notFound("No such exec instance: \(id)") }
        guard exec.running, exec.tty else { throw BerthError.conflict("exec \(id) has no running terminal") }
    }
}

/// The pty masters of running `exec -t` sessions, for resize.
final class ExecTerminals: Sendable {
    static let shared = ExecTerminals()
    private let table = Mutex<[String: Int32]>([:])

    func add(_ id: String, _ fd: Int32) { table.withLock { $0[id] = fd } }

    func remove(_ id: String) {
        table.withLock { table in
            if let fd = table.removeValue(forKey: id) { close(fd) }
        }
    }

    func resize(_ id: String, rows: UInt16, columns: UInt16) -> Bool {
        table.withLock { table in table[id].map { setWindowSize($0, rows: rows, columns: columns) } ?? false }
    }
}

extension APIRoutes {
    func addExecStdioRoutes(_ router: inout Router) {
        let controller = self.controller
        router.add(.POST, "/exec/{id}/resize") { request in
            await respond {
                let (rows, columns) = try request.windowSize()
                let id = request.param("id")
                try await controller.checkResizable(id)
                guard ExecTerminals.shared.resize(id, rows: rows, columns: columns) else {
                    throw BerthError.conflict("exec \(id) has no running terminal")
                }
                return .empty(.ok)
            }
        }
    }

    /// `exec -t`: the terminal's output raw to the client, the client's input to it.
    func startTerminalExec(_ exec: ExecRecord, detach: Bool, size: [UInt16]?) async throws -> HTTPResponse {
        let rows = try ConsoleSize.check(size)
        let master = try await controller.startTerminalExec(exec.id)
        if let rows { _ = setWindowSize(master, rows: rows.height, columns: rows.width) }
        let id = exec.id
        // Resize and input write to copies; the pump owns `master` and closes it at the end.
        let control = dup(master)
        ExecTerminals.shared.add(id, dup(master))
        let output = DescriptorPump.chunks(master)
        let cleanup: @Sendable () async -> Void = {
            for await _ in output {}  // the terminal is read to its end whoever listens
            ExecTerminals.shared.remove(id)
            close(control)
        }
        if detach {
            Task { await cleanup() }
            return .empty(.ok)
        }
        let attachStdin = exec.attachStdin
        let keys = exec.detachKeys
        return .hijacked(contentType: RawStream.contentType) { writer in
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for await chunk in output {
                        do { try await writer.write(chunk) } catch { return true }
                    }
                    return true
                }
                if attachStdin {
                    group.addTask { await InputForwarder.forward(writer.input, to: control, detachKeys: keys) != .endOfInput }
                }
                while let ends = await group.next() {
                    if ends {
                        group.cancelAll()
                        break
                    }
                }
            }
            Task { await cleanup() }
        }
    }

    /// `exec -i`: a pipe for the process's stdin; the client's end of input closes it.
    func startExecWithStdin(_ exec: ExecRecord) async throws -> HTTPResponse {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw BerthError(.internal, "exec stdin pipe: \(String(cString: strerror(errno)))")
        }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let process: RuncExecProcess
        do {
            process = try await controller.startExec(exec.id, stdin: readEnd)
        } catch {
            close(readEnd)
            close(writeEnd)
            throw error
        }
        close(readEnd)
        let flags = fcntl(writeEnd, F_GETFL)
        _ = fcntl(writeEnd, F_SETFL, flags | O_NONBLOCK)
        let controller = self.controller
        let id = exec.id
        let keys = exec.detachKeys
        return .hijacked(contentType: RawStream.multiplexedContentType) { writer in
            let input = Task {
                _ = await InputForwarder.forward(writer.input, to: writeEnd, detachKeys: keys)
                close(writeEnd)  // the process's EOF
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await forward(process.stdout, .stdout, writer, attached: exec.attachStdout) }
                group.addTask { try? await forward(process.stderr, .stderr, writer, attached: exec.attachStderr) }
            }
            input.cancel()
            await controller.finishExec(id, exitCode: (try? await process.exitCode()) ?? 255)
        }
    }
}

/// `ConsoleSize`: [height, width], or nothing; any other shape is refused.
enum ConsoleSize {
    static func check(_ size: [UInt16]?) throws(BerthError) -> (height: UInt16, width: UInt16)? {
        guard let size, !size.isEmpty else { return nil }
        guard size.count == 2 else { throw BerthError.invalid("ConsoleSize must be [height, width]") }
        // [0, 0] is what clients send without a terminal: no size to set.
        return size[0] == 0 && size[1] == 0 ? nil : (size[0], size[1])
    }
}

import BerthCore
import ContainerRuntime
import DockerAPI
import Foundation
import HTTPUnix

/// One `exec` instance: created, then started once.
struct ExecRecord: Sendable {
    var id: String
    var containerID: String
    var command: [String]
    var environment: [String]
    var workingDirectory: String?
    /// `exec -u`, resolved in the container's files at create, so that the client sees
    /// an unknown user's error (a failed start after the upgrade shows none).
    var user: OCISpec.User?
    var started = false
    var running = false
    var exitCode: Int32?
    var pid: Int32 = 0
    /// `-t`: the process gets a terminal.
    var tty = false
    /// `-i`: the client's input goes to the process's stdin.
    var attachStdin = false
    var detachKeys = DetachKeys.standard
    /// Which output streams the client gets (the others are read and dropped).
    var attachStdout = true
    var attachStderr = true
}

extension Controller {
    func createExec(container reference: String, request: ExecCreateRequest) async throws -> String {
        let record = try container(reference)
        guard record.isRunning else { throw BerthError.conflict("container \(record.id) is not running") }
        if record.isPaused { throw BerthError.conflict("Container \(record.id) is paused, unpause the container before exec") }
        guard !request.Cmd.isEmpty else { throw BerthError.invalid("no exec command specified") }
        try Self.validateEnvironment(request.Env ?? [])
        var user: OCISpec.User?
        if let spec = request.User, !spec.isEmpty {
            try UserLookup.validate(spec)
            user = try await runtime.resolveUser(spec, pid: record.pid).ociUser
        }
        let detachKeys = try request.DetachKeys.flatMap { $0.isEmpty ? nil : try DetachKeys.parse($0) } ?? DetachKeys.standard
        let id = Identifiers.random()
        execs[id] = ExecRecord(id: id, containerID: record.id, command: request.Cmd, environment: request.Env ?? [],
                               workingDirectory: request.WorkingDir, user: user)
        execs[id]?.tty = request.Tty ?? false
        execs[id]?.attachStdin = request.AttachStdin ?? false
        execs[id]?.detachKeys = detachKeys
        // Unset means attached, as berth answered before it read these.
        execs[id]?.attachStdout = request.AttachStdout ?? true
        execs[id]?.attachStderr = request.AttachStderr ?? true
        emit(container: record, Self.execAction("exec_create", request.Cmd), ["execID": id])
        return id
    }

    /// Marks the exec started and launches its process (`stdin`: what it reads, for `-i`).
    func startExec(_ id: String, stdin: Int32 = -1) async throws -> RuncExecProcess {
        guard var exec = execs[id] else { throw BerthError.notFound("No such exec instance: \(id)") }
        guard !exec.started else { throw BerthError.conflict("exec \(id) has already been started") }
        guard isRunning(exec.containerID) else { throw BerthError.conflict("container \(exec.containerID) is not running") }
        if containers[exec.containerID]?.isPaused == true {
            throw BerthError.conflict("Container \(exec.containerID) is paused, unpause the container before exec")
        }
        exec.started = true
        exec.running = true
        execs[id] = exec
        do {
            let process: RuncExecProcess
            if stdin >= 0 {
                process = try await runtime.execWithStdin(id: exec.containerID, args: exec.command, env: exec.environment,
                                                          workingDirectory: exec.workingDirectory, stdin: stdin, user: exec.user)
            } else if let user = exec.user {
                process = try await runtime.exec(id: exec.containerID, args: exec.command, env: exec.environment,
                                                 workingDirectory: exec.workingDirectory, user: user)
            } else {
                process = try await runtime.exec(id: exec.containerID, args: exec.command, env: exec.environment,
                                                 workingDirectory: exec.workingDirectory)
            }
            execs[id]?.pid = process.pid
            emit(containerID: exec.containerID, Self.execAction("exec_start", exec.command), ["execID": id])
            return process
        } catch {
            execs[id]?.running = false
            execs[id]?.exitCode = 126
            throw error
        }
    }

    func finishExec(_ id: String, exitCode: Int32) {
        execs[id]?.running = false
        execs[id]?.exitCode = exitCode
        if let exec = execs[id] { emit(containerID: exec.containerID, "exec_die", ["execID": id, "exitCode": String(exitCode)]) }
    }

    func execInspect(_ id: String) throws -> ExecInspect {
        guard let exec = execs[id] else { throw BerthError.notFound("No such exec instance: \(id)") }
        var inspect = ExecInspect(ID: exec.id, Running: exec.running, ExitCode: exec.exitCode, command: exec.command,
                                  ContainerID: exec.containerID, Pid: exec.pid)
        inspect.ProcessConfig.tty = exec.tty
        inspect.OpenStdin = exec.attachStdin
        return inspect
    }
}

extension APIRoutes {
    func addExecRoutes(_ router: inout Router) {
        let controller = self.controller
        router.add(.POST, "/containers/{id}/exec") { request in
            await respond {
                try request.refuseUnsupportedFields(CreateRequestRules.exec)
                let body = try request.json(ExecCreateRequest.self)
                return .json(.created, IDResponse(Id: try await controller.createExec(container: request.param("id"), request: body)))
            }
        }
        router.add(.GET, "/exec/{id}/json") { request in
            await respond { .json(.ok, try await controller.execInspect(request.param("id"))) }
        }
        router.add(.POST, "/exec/{id}/start") { request in
            await respond {
                let body = try request.json(ExecStartRequest.self)
                let id = request.param("id")
                let exec = try await controller.execRecord(id)
                if exec.tty {
                    return try await startTerminalExec(exec, detach: body.Detach ?? false, size: body.ConsoleSize)
                }
                if exec.attachStdin, !(body.Detach ?? false) {
                    return try await startExecWithStdin(exec)
                }
                let process = try await controller.startExec(id)
                if body.Detach ?? false {
                    Task {
                        // Nobody reads the output: drain it so the process never blocks.
                        async let out: Void = drain(process.stdout)
                        async let err: Void = drain(process.stderr)
                        _ = await (out, err)
                        // 255, as runc reports a process it could not wait for.
                        await controller.finishExec(id, exitCode: (try? await process.exitCode()) ?? 255)
                    }
                    return .empty(.ok)
                }
                return .hijacked { writer in
                    await withTaskGroup(of: Void.self) { group in
                        // A client that went away ends the forwarding; the process runs on.
                        group.addTask { try? await forward(process.stdout, .stdout, writer, attached: exec.attachStdout) }
                        group.addTask { try? await forward(process.stderr, .stderr, writer, attached: exec.attachStderr) }
                    }
                    await controller.finishExec(id, exitCode: (try? await process.exitCode()) ?? 255)
                }
            }
        }
    }
}

/// Reads a pipe on a dispatch thread (reads block) and hands the chunks over.
func chunks(of handle: FileHandle) -> AsyncStream<[UInt8]> {
    AsyncStream { continuation in
        DispatchQueue.global().async {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                continuation.yield(Array(data))
            }
            continuation.finish()
        }
    }
}

func forward(_ handle: FileHandle, _ kind: RawStream.Kind, _ writer: RawStreamWriter, attached: Bool = true) async throws {
    var failed = !attached
    for await chunk in chunks(of: handle) where !failed {
        // Keep reading after the client left so the process is never blocked on a full pipe.
        do { try await writer.write(kind, chunk) } catch { failed = true }
    }
}

private func drain(_ handle: FileHandle) async {
    for await _ in chunks(of: handle) {}
}

import BerthCore
import ContainerRuntime
import Foundation

/// Containers' processes and images as the controller uses them: images, launch and
/// destroy, signals, exit notifications, runc's list and exec. `Runtime` (runc and
/// overlayfs) is the real one.
protocol RuntimeService: AnyObject, Sendable {
    func image(_ reference: String) throws(BerthError) -> ImageInfo
    func listImages() -> [ImageRecord]
    func importImage(path: String, name: String) async throws -> ImageRecord
    func removeImage(reference: String, force: Bool) throws -> ImageRemoval

    func launch(_ spec: LaunchSpec) async throws -> LaunchedProcess
    func destroy(id: String, directory: String, removingRoot: Bool) async throws(BerthError)
    func signal(id: String, pid: Int32, signal: Int32) throws
    /// `onExit` runs once with the exit code when the process is gone.
    func watch(pid: Int32, startTime: UInt64?, onExit: @escaping @Sendable (Int32) -> Void)
    func isAlive(pid: Int32, startTime: UInt64) -> Bool
    /// IDs of the containers runc has state for.
    func listContainers() async throws -> [String]
    /// Waits for runc calls a previous daemon left running (`RuncLeftovers`); returns the
    /// pids still running at the deadline.
    func waitForLeftoverCalls(timeout: Duration) async -> [Int32]
    func exec(id: String, args: [String], env: [String], workingDirectory: String?) async throws -> RuncExecProcess
    /// `exec -i`: the process reads `stdin` (the caller keeps its own copy and closes it).
    func execWithStdin(id: String, args: [String], env: [String], workingDirectory: String?,
                       stdin: Int32) async throws -> RuncExecProcess
    /// `exec -t`: the process's pid (watch it for its exit status) and its pty master.
    func execTerminal(id: String, args: [String], env: [String],
                      workingDirectory: String?) async throws -> (pid: Int32, master: Int32)
    /// Runs blocking work (disk walks, image removal) off the Swift concurrency pool.
    func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T
}

extension RuncRuntime: RuntimeService {
    func listImages() -> [ImageRecord] { images.list() }

    func importImage(path: String, name: String) async throws -> ImageRecord {
        let images = self.images
        return try await offload { try images.importTarball(path: path, name: name) }
    }

    func removeImage(reference: String, force: Bool) throws -> ImageRemoval {
        try images.remove(reference: reference, force: force)
    }

    func waitForLeftoverCalls(timeout: Duration) async -> [Int32] {
        await RuncLeftovers.waitForPending(root: runc.root, timeout: timeout)
    }

    func listContainers() async throws -> [String] {
        let runc = self.runc
        return try await offload { try runc.list() }
    }

    func exec(id: String, args: [String], env: [String], workingDirectory: String?) async throws -> RuncExecProcess {
        let runc = self.runc
        return try await offload { try runc.exec(id: id, args: args, env: env, workingDirectory: workingDirectory) }
    }

    func execWithStdin(id: String, args: [String], env: [String], workingDirectory: String?,
                       stdin: Int32) async throws -> RuncExecProcess {
        let runc = self.runc
        return try await offload {
            try runc.exec(id: id, args: args, env: env, workingDirectory: workingDirectory,
                          stdin: FileHandle(fileDescriptor: stdin, closeOnDealloc: false))
        }
    }

    func execTerminal(id: String, args: [String], env: [String],
                      workingDirectory: String?) async throws -> (pid: Int32, master: Int32) {
        let runc = self.runc
        return try await offload {
            let console = try ConsoleSocket(directory: runc.logDirectory)
            let pid = try runc.execTerminal(id: id, args: args, env: env, workingDirectory: workingDirectory,
                                            consoleSocket: console.path)
            return (pid, try console.receiveMaster())
        }
    }
}

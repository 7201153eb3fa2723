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
    /// `docker tag`: adds `target` to the image `reference` names.
    func tagImage(reference: String, as target: ImageReference) throws -> ImageRecord
    /// Takes `tag` off its image, even the last one.
    func untagImage(_ tag: ImageReference) throws

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
    /// `runc pause` / `runc resume`: freeze and thaw every process of the container.
    func pause(id: String) async throws
    func resume(id: String) async throws
    /// `top`: the host's ps with `psArguments`, kept to the container's processes.
    func top(id: String, psArguments: [String]) async throws -> ProcessTable
    /// `exec -u`: runs as `user`, resolved by `resolveUser`.
    func exec(id: String, args: [String], env: [String], workingDirectory: String?, user: OCISpec.User) async throws -> RuncExecProcess
    /// `--user` text resolved in the running container's files (its init is `pid`).
    func resolveUser(_ spec: String, pid: Int32) async throws -> ResolvedUser
    /// `exec -i`: the process reads `stdin` (the caller keeps its own copy and closes it).
    func execWithStdin(id: String, args: [String], env: [String], workingDirectory: String?,
                       stdin: Int32, user: OCISpec.User?) async throws -> RuncExecProcess
    /// `exec -t`: the process's pid (watch it for its exit status) and its pty master.
    func execTerminal(id: String, args: [String], env: [String],
                      workingDirectory: String?, user: OCISpec.User?) async throws -> (pid: Int32, master: Int32)
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

    func tagImage(reference: String, as target: ImageReference) throws -> ImageRecord {
        try images.tag(reference: reference, as: target.description)
    }

    func untagImage(_ tag: ImageReference) throws {
        try images.untag(tag)
    }

    func waitForLeftoverCalls(timeout: Duration) async -> [Int32] {
        await RuncLeftovers.waitForPending(root: runc.root, timeout: timeout)
    }

    func listContainers() async throws -> [String] {
        let runc = self.runc
        return try await offload { try runc.list() }
    }

    func pause(id: String) async throws {
        let runc = self.runc
        try await offload { try runc.pause(id: id) }
    }

    func resume(id: String) async throws {
        let runc = self.runc
        try await offload { try runc.resume(id: id) }
    }

    func top(id: String, psArguments: [String]) async throws -> ProcessTable {
        let runc = self.runc
        return try await offload {
            try ProcessTable.list(arguments: psArguments, keeping: Set(try runc.processIDs(id: id)))
        }
    }

    func exec(id: String, args: [String], env: [String], workingDirectory: String?) async throws -> RuncExecProcess {
        let runc = self.runc
        return try await offload { try runc.exec(id: id, args: args, env: env, workingDirectory: workingDirectory) }
    }

    func exec(id: String, args: [String], env: [String], workingDirectory: String?, user: OCISpec.User) async throws -> RuncExecProcess {
        let runc = self.runc
        return try await offload { try runc.exec(id: id, args: args, env: env, workingDirectory: workingDirectory, user: user) }
    }

    func resolveUser(_ spec: String, pid: Int32) async throws -> ResolvedUser {
        // The container's root as its init sees it; UserLookup follows no symlink there.
        try await offload { try UserLookup.resolve(spec, root: "/proc/\(pid)/root") }
    }

    func execWithStdin(id: String, args: [String], env: [String], workingDirectory: String?,
                       stdin: Int32, user: OCISpec.User?) async throws -> RuncExecProcess {
        let runc = self.runc
        return try await offload {
            try runc.exec(id: id, args: args, env: env, workingDirectory: workingDirectory,
                          stdin: FileHandle(fileDescriptor: stdin, closeOnDealloc: false), user: user)
        }
    }

    func execTerminal(id: String, args: [String], env: [String],
                      workingDirectory: String?, user: OCISpec.User?) async throws -> (pid: Int32, master: Int32) {
        let runc = self.runc
        return try await offload {
            let console = try ConsoleSocket(directory: runc.logDirectory)
            let pid = try runc.execTerminal(id: id, args: args, env: env, workingDirectory: workingDirectory,
                                            user: user, consoleSocket: console.path)
            return (pid, try console.receiveMaster())
        }
    }
}

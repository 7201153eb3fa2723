import BerthCore
import ContainerRuntime
@testable import Daemon
import Foundation
import Synchronization

/// runc, images and the process monitor, without processes: one busybox image, launch
/// hands out pids, and a container "exits" when the test (or a signal) calls its exit
/// callback. Whether a pid is alive, as a restarted daemon asks, is the test's to say.
final class FakeRuntime: RuntimeService {
    static let busyboxID = "sha256:" + String(repeating: "b0", count: 32)

    struct State: Sendable {
        var nextPid: Int32 = 1000
        /// Container ID → pid of its latest launch.
        var pids: [String: Int32] = [:]
        var watchers: [Int32: @Sendable (Int32) -> Void] = [:]
        var alive: Set<Int32> = []
        /// What `runc list` shows.
        var runcContainers: Set<String> = []
        var launches: [LaunchSpec] = []
        var destroyed: [(id: String, removingRoot: Bool)] = []
        var signals: [(id: String, signal: Int32)] = []
        var failures: [String: BerthError] = [:]
        /// Signals the container's process dies of (with 128 + signal), as busybox sh would.
        var fatalSignals: Set<Int32> = [SIGTERM, SIGKILL]
        /// Containers frozen by `pause`; a frozen process takes no signal but SIGKILL.
        var paused: Set<String> = []
    }

    let state = Mutex(State())
    let rootfs: String

    init(rootfs: String) { self.rootfs = rootfs }

    var snapshot: State { state.withLock { $0 } }

    func fail(_ operation: String, with error: BerthError = BerthError(.internal, "injected runc failure")) {
        state.withLock { $0.failures[operation] = error }
    }

    func pid(of id: String) -> Int32? { state.withLock { $0.pids[id] } }

    /// The container's process ends with `code`: its watcher (the controller) hears it.
    func exit(_ id: String, code: Int32) {
        let watcher = state.withLock { state -> (@Sendable (Int32) -> Void)? in
            guard let pid = state.pids[id] else { return nil }
            state.alive.remove(pid)
            return state.watchers.removeValue(forKey: pid)
        }
        watcher?(code)
    }

    func setAlive(_ pid: Int32, _ alive: Bool) {
        state.withLock { state in
            if alive { state.alive.insert(pid) } else { state.alive.remove(pid) }
        }
    }

    private func begin(_ operation: String) throws(BerthError) {
        if let failure = state.withLock({ $0.failures.removeValue(forKey: operation) }) { throw failure }
    }

    // MARK: RuntimeService

    private var busybox: ImageRecord {
        ImageRecord(id: Self.busyboxID, repoTags: ["busybox:latest"], created: Date(timeIntervalSince1970: 1_700_000_000),
                    size: 1_000_000, config: ImageConfig(cmd: ["sh"]))
    }

    func image(_ reference: String) throws(BerthError) -> ImageInfo {
        let local = RuncRuntime.localReference(reference)
        let image = busybox
        let hex = image.id.dropFirst(7)
        guard ["busybox", "busybox:latest", image.id].contains(local) || (local.count >= 4 && hex.hasPrefix(local)) else {
            throw BerthError.notFound("no such image: \(reference)")
        }
        return ImageInfo(record: image, rootfsPath: rootfs)
    }

    func listImages() -> [ImageRecord] { [busybox] }

    func importImage(path: String, name: String) async throws -> ImageRecord {
        throw BerthError.invalid("the fake runtime imports no images")
    }

    func removeImage(reference: String, force: Bool) throws -> ImageRemoval {
        throw BerthError.conflict("the fake runtime keeps its image")
    }

    func tagImage(reference: String, as target: ImageReference) throws -> ImageRecord {
        throw BerthError.conflict("the fake runtime keeps its one tag")
    }

    func untagImage(_ tag: ImageReference) throws {
        throw BerthError.conflict("the fake runtime keeps its one tag")
    }

    func launch(_ spec: LaunchSpec) async throws -> LaunchedProcess {
        try begin("launch")
        await Task.yield()
        let pid = state.withLock { state -> Int32 in
            state.nextPid += 1
            state.pids[spec.id] = state.nextPid
            state.alive.insert(state.nextPid)
            state.runcContainers.insert(spec.id)
            state.launches.append(spec)
            return state.nextPid
        }
        return LaunchedProcess(pid: pid, startTime: UInt64(pid) * 10)
    }

    func destroy(id: String, directory: String, removingRoot: Bool) async throws(BerthError) {
        state.withLock { state in
            state.destroyed.append((id, removingRoot))
            state.runcContainers.remove(id)
        }
    }

    func signal(id: String, pid: Int32, signal: Int32) throws {
        let dies = state.withLock { state -> Bool in
            state.signals.append((id, signal))
            let frozen = state.paused.contains(id) && signal != SIGKILL
            return !frozen && state.fatalSignals.contains(signal) && state.pids[id] != nil && state.alive.contains(state.pids[id] ?? 0)
        }
        if dies { exit(id, code: 128 + signal) }
    }

    func watch(pid: Int32, startTime: UInt64?, onExit: @escaping @Sendable (Int32) -> Void) {
        state.withLock { $0.watchers[pid] = onExit }
    }

    func isAlive(pid: Int32, startTime: UInt64) -> Bool {
        state.withLock { $0.alive.contains(pid) }
    }

    func waitForLeftoverCalls(timeout: Duration) async -> [Int32] {
        []  // the fake's calls finish when they return
    }

    func listContainers() async throws -> [String] {
        try begin("listContainers")
        return state.withLock { Array($0.runcContainers) }
    }

    func exec(id: String, args: [String], env: [String], workingDirectory: String?) async throws -> RuncExecProcess {
        throw BerthError.invalid("the fake runtime runs no processes")
    }

    func pause(id: String) async throws {
        try begin("pause")
        state.withLock { _ = $0.paused.insert(id) }
    }

    func resume(id: String) async throws {
        try begin("resume")
        state.withLock { _ = $0.paused.remove(id) }
    }

    /// One row, the container's pid, as `ps -o pid,comm` would print it.
    func top(id: String, psArguments: [String]) async throws -> ProcessTable {
        try begin("top")
        let pid = state.withLock { $0.pids[id] }
        return ProcessTable(titles: ["PID", "COMMAND"], processes: pid.map { [["\($0)", "sleep"]] } ?? [])
    }

    func execWithStdin(id: String, args: [String], env: [String], workingDirectory: String?,
                       stdin: Int32, user: OCISpec.User?) async throws -> RuncExecProcess {
        throw BerthError.invalid("the fake runtime runs no processes")
    }

    func execTerminal(id: String, args: [String], env: [String],
                      workingDirectory: String?, user: OCISpec.User?) async throws -> (pid: Int32, master: Int32) {
        throw BerthError.invalid("the fake runtime runs no processes")
    }

    func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try body()
    }
}

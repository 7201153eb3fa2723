import BerthCore
import ContainerRuntime
import Dispatch
import Foundation

/// What `start` hands the runtime.
struct LaunchSpec: Sendable {
    var id: String
    var directory: String
    var imageRootfs: String
    var command: [String]
    var environment: [String]
    var workingDirectory: String?
    var hostname: String
    /// The namespace file to join; nil = the daemon's own (host mode).
    var networkNamespace: String?
    var shareHostUTS: Bool
    /// `--user` as given; resolved in the container's root at launch.
    var user: String?
    var domainname: String?
    var mounts: [ContainerMount] = []
    var initBinary: String?
    var readonlyRootfs = false
    /// The container's stdio (see `StdioTable.prepare`).
    var stdio = LaunchStdio()
}

/// The container's ends of its stdio, which the caller owns: FIFO descriptors, or a
/// terminal that runc makes.
struct LaunchStdio: Sendable {
    var stdin: Int32 = -1
    var stdout: Int32 = -1
    var stderr: Int32 = -1
    var terminal = false
}

struct LaunchedProcess: Sendable {
    var pid: Int32
    var startTime: UInt64
    /// The pty master of a terminal run (the caller owns it), else -1.
    var terminal: Int32 = -1
}

/// An image as the controller needs it.
struct ImageInfo: Sendable {
    var record: ImageRecord
    var rootfsPath: String
    var id: String { record.id }
    var defaultCommand: [String]? { record.config.cmd }
}

/// The container runtime as the controller sees it: images, runc, root filesystems and
/// exit notifications. runc calls block for tens of milliseconds, so they run on a
/// dispatch queue, never on the Swift concurrency pool.
final class RuncRuntime: Sendable {
    static let logFileName = "container.log"

    let images: ImageStore
    let runc: Runc
    let monitor: ProcessMonitor
    let cgroupPrefix: String
    /// Where runc runs and roots are mounted (see LaunchNamespace for why).
    let launchNamespace: LaunchNamespace
    private let queue = DispatchQueue(label: "berth.runtime", attributes: .concurrent)

    init(configuration: DaemonConfiguration, daemonID: String) throws {
        images = try ImageStore(root: configuration.imagesDir)
        let runcBinary = Runc.resolve(configuration.runcPath)
        launchNamespace = try LaunchNamespace(plan: MountPlan(
            needed: [configuration.root, configuration.execRoot, runcBinary], hidden: [configuration.netnsDir]))
        runc = Runc(binary: runcBinary, root: configuration.runcRoot, namespace: launchNamespace)
        monitor = try ProcessMonitor()
        cgroupPrefix = "berth-" + daemonID.prefix(12)
    }

    func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    func image(_ reference: String) throws(BerthError) -> ImageInfo {
        do {
            let record = try images.lookup(reference: Self.localReference(reference))
            return ImageInfo(record: record, rootfsPath: images.rootfsPath(of: record))
        } catch {
            throw BerthError.wrap(error, "")
        }
    }

    /// Docker clients send names normalised to Docker Hub ("docker.io/library/busybox");
    /// berth's images are local, so the registry part is dropped.
    static func localReference(_ reference: String) -> String {
        for prefix in ["docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"]
        where reference.hasPrefix(prefix) {
            return String(reference.dropFirst(prefix.count))
        }
        return reference
    }

    /// Mounts the root filesystem, writes the OCI bundle and starts the container with
    /// its output appended to the container's log. Undoes its own steps on failure.
    /// The root is mounted in the launch namespace only while runc needs it: the started
    /// container holds its own copy. runc joins the network namespace through this
    /// process's descriptor for it, as the file's own mount is not in the launch namespace.
    func launch(_ spec: LaunchSpec) async throws -> LaunchedProcess {
        let runc = self.runc
        let prefix = cgroupPrefix
        let launchNamespace = self.launchNamespace
        return try await offload {
            var network = ContainerLaunch.Network.host
            var namespaceFD: Int32 = -1
            defer { if namespaceFD >= 0 { close(namespaceFD) } }
            if let path = spec.networkNamespace {
                namespaceFD = open(path, O_RDONLY | O_CLOEXEC)
                guard namespaceFD >= 0 else {
                    throw BerthError(.internal, "cannot open the network namespace \(path): \(String(cString: strerror(errno)))")
                }
                network = .path("/proc/\(getpid())/fd/\(namespaceFD)")
            }
            // -v makes a missing host directory, on the host, before runc looks for it.
            let sources = try ContainerMount.prepareSources(spec.mounts)
            let rootfs = try launchNamespace.perform {
                try RootFilesystem.prepare(containerDir: spec.directory, imageRootfs: spec.imageRootfs)
            }
            // The started container holds its own copy of the mount; a failed start leaves the
            // root's directories for the next start (its changes stay until rm, as in Docker).
            defer { try? launchNamespace.perform { try RootFilesystem.unmount(containerDir: spec.directory) } }
            do {
                let (user, hidden) = try launchNamespace.perform { () throws -> (ResolvedUser?, [BindSource]) in
                    (try spec.user.flatMap { $0.isEmpty ? nil : try UserLookup.resolve($0, root: rootfs) },
                     ContainerMount.hiddenSources(sources))
                }
                let (mounts, staged) = try BindStaging.stage(spec.mounts, hidden: hidden, in: launchNamespace,
                                                             under: spec.directory + "/binds")
                // Detached once runc is done, whether it started the container or not.
                defer { if !staged.isEmpty { try? launchNamespace.perform { BindStaging.detach(staged) } } }
                var launch = ContainerLaunch(
                    id: spec.id, rootfs: rootfs, args: spec.command, env: spec.environment, hostname: spec.hostname,
                    workingDir: spec.workingDirectory.flatMap { $0.isEmpty ? nil : $0 } ?? "/",
                    network: network, shareHostUTS: spec.shareHostUTS,
                    filesDir: spec.directory, cgroupPrefix: prefix, uid: user?.uid ?? 0, gid: user?.gid ?? 0,
                    openFilesLimit: Self.openFilesLimit)
                launch.additionalGids = user?.additionalGids ?? []
                launch.domainname = spec.domainname
                launch.mounts = mounts
                launch.initBinary = spec.initBinary
                launch.readonlyRootfs = spec.readonlyRootfs
                launch.terminal = spec.stdio.terminal
                // Docker's default for terminals; programs like top refuse to run without one.
                if spec.stdio.terminal, !spec.environment.contains(where: { $0.hasPrefix("TERM=") }) {
                    launch.env.append("TERM=xterm")
                }
                let bundle = spec.directory + "/bundle"
                try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
                _ = try OCIBundle.create(at: bundle, launch: launch)
                if spec.stdio.terminal {
                    let console = try ConsoleSocket(directory: runc.logDirectory)
                    let pid = try runc.run(id: spec.id, bundle: bundle, stdout: nil, stderr: nil, consoleSocket: console.path)
                    let master = try console.receiveMaster()
                    guard let startTime = ProcessMonitor.startTime(pid: pid) else {
                        close(master)
                        throw BerthError(.internal, "container \(spec.id.prefix(12)) exited as soon as it started")
                    }
                    return LaunchedProcess(pid: pid, startTime: startTime, terminal: master)
                }
                guard spec.stdio.stdout >= 0, spec.stdio.stderr >= 0 else {
                    throw BerthError(.internal, "container \(spec.id.prefix(12)): no stdio to start it with")
                }
                func handle(_ fd: Int32) -> FileHandle? { fd >= 0 ? FileHandle(fileDescriptor: fd, closeOnDealloc: false) : nil }
                // A container that exits at once leaves its output in the FIFOs for the reader.
                let pid = try runc.run(id: spec.id, bundle: bundle, stdin: handle(spec.stdio.stdin),
                                       stdout: handle(spec.stdio.stdout), stderr: handle(spec.stdio.stderr))
                guard let startTime = ProcessMonitor.startTime(pid: pid) else {
                    throw BerthError(.internal, "container \(spec.id.prefix(12)) exited as soon as it started")
                }
                return LaunchedProcess(pid: pid, startTime: startTime)
            } catch {
                // The launch's own error is the one to report; a runc container left by a
                // failed delete is removed by the next start's reconciliation.
                try? runc.delete(id: spec.id, force: true)
                throw error
            }
        }
    }

    /// Containers get the daemon's hard limit: asking for more than the kernel allows
    /// (fs.nr_open) makes runc fail.
    static let openFilesLimit: UInt64 = {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return UInt64(min(limit.rlim_max, 1_048_576))
    }()

    /// Signals the container's init: directly through the pidfd the monitor holds when it
    /// watches `pid` (a runc process costs milliseconds, more with every mount on the host),
    /// else through `runc kill`.
    func signal(id: String, pid: Int32, signal: Int32) throws {
        if pid > 0, monitor.signal(pid: pid, signal) { return }
        try runc.kill(id: id, signal: signal)
    }

    /// Forgets the runc container and makes sure its root is mounted nowhere in the host's
    /// table (a daemon before the launch namespace mounted it there). With `removingRoot`
    /// the root's directories go too (rm); without, the container's changes stay for its
    /// next start, as in Docker. Both steps run whatever the first did; one error names
    /// every one that failed.
    func destroy(id: String, directory: String, removingRoot: Bool) async throws(BerthError) {
        let runc = self.runc
        let failures: [String]
        do {
            failures = try await offload {
                var failures: [String] = []
                // Only when runc has state for it: a second `runc delete` (stop, then rm)
                // would cost a process for nothing.
                if FileManager.default.fileExists(atPath: runc.root + "/" + id) {
                    do { try runc.delete(id: id, force: true) } catch { failures.append("runc delete: \(error)") }
                }
                do {
                    if removingRoot {
                        try RootFilesystem.release(containerDir: directory)
                    } else {
                        try RootFilesystem.unmount(containerDir: directory)
                    }
                } catch {
                    failures.append("\(removingRoot ? "removing" : "unmounting") the root filesystem: \(error)")
                }
                return failures
            }
        } catch {
            throw BerthError.wrap(error, "removing container \(id.prefix(12))")
        }
        guard failures.isEmpty else {
            throw BerthError(.internal, "removing container \(id.prefix(12)): " + failures.joined(separator: "; "))
        }
    }

    func watch(pid: Int32, startTime: UInt64? = nil, onExit: @escaping @Sendable (Int32) -> Void) {
        do {
            try monitor.watch(pid: pid, startTime: startTime, onExit: onExit)
        } catch {
            onExit(ProcessMonitor.unknownExitCode)
        }
    }

    func isAlive(pid: Int32, startTime: UInt64) -> Bool {
        ProcessMonitor.isAlive(pid: pid, startTime: startTime)
    }
}

import BerthCore
import CLinux
import Cluster
import DNS
import Drivers
import Etcd
import Firewall
import Foundation
import Synchronization
import HTTPUnix
import Logging
import Store

/// berthd: opens the store, reconciles, and serves the API until told to stop.
public final class BerthDaemon: Sendable {
    let configuration: DaemonConfiguration
    let logger: Logger

    public init(configuration: DaemonConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT. Running containers are left running: the next
    /// daemon picks them up.
    public func run() async throws {
        // berthd is mostly idle threads (event loops, the namespace thread, DNS, teardown):
        // two arenas are plenty, and their free memory goes back to the kernel after bursts.
        berth_limit_malloc_arenas(2)
        try prepareDirectories()
        raiseOpenFileLimit()
        // Container inits become our children once `runc run --detach` returns, so their
        // exit status can be collected.
        guard berth_set_child_subreaper() == 0 else {
            throw BerthError(.internal, "cannot become a child subreaper: \(String(cString: strerror(errno)))")
        }
        // Nothing is changed before the state is known to account for what is running.
        let store = try MirroredStore(database: try openDatabase(), directory: configuration.recordsDir)
        try checkState(store)
        let daemonID = try loadDaemonID(store)
        let worker = try NetworkWorker()
        let runtime = try RuncRuntime(configuration: configuration, daemonID: daemonID)
        for problem in runtime.images.unreadable {
            // Left in place for the operator: an image berth cannot read is not listed.
            logger.warning("skipping an unreadable image", metadata: ["image": .string(problem)])
        }
        let dns = DNSServer(upstreams: Controller.upstreams(resolvConf: configuration.resolvConfPath))
        var cluster: ClusterStore?
        if let settings = configuration.cluster {
            cluster = try await makeClusterStore(settings, daemonID: daemonID, worker: worker)
        }
        let tunnel = cluster.map(\.node.address).map { (local: $0, port: UInt16(4789)) }
        let firewall = try Firewall(options: .init(bridgeNetfilter: Firewall.bridgeNetfilterActive(), overlayTunnel: tunnel,
                                                   publishedPorts: configuration.publishedPorts),
                                    logger: logger)
        let controller = Controller(configuration: configuration, store: store, worker: worker, firewall: firewall,
                                    runtime: runtime, logger: logger, daemonID: daemonID, dns: dns, cluster: cluster)
        try await controller.bootstrap()
        worker.keepSpareNamespaces(configuration.spareNamespaces, in: configuration.netnsDir)

        let routes = APIRoutes(controller: controller, configuration: configuration)
        var serverConfiguration = HTTPServer.Configuration()
        // JSON bodies keep the 1 MiB default; image tarballs go to a file next to the images.
        serverConfiguration.uploadDirectory = configuration.root
        serverConfiguration.idleTimeout = .seconds(Int64(configuration.apiIdleTimeoutSeconds))
        serverConfiguration.maxConnections = Self.connectionLimit(configuration.apiMaxConnections)
        serverConfiguration.defaultHeaders = [
            "Api-Version": "1.47", "Server": "berth/\(configuration.version) (linux)",
            "Ostype": "linux", "Docker-Experimental": "false",
        ]
        let logger = self.logger
        serverConfiguration.onResponse = { request, status in
            logger.debug("\(request.method) \(request.path) \(status.code)")
        }
        let server = HTTPServer(socketPath: configuration.socketPath, router: routes.router(), configuration: serverConfiguration)
        try await server.start()
        logger.info("berthd is ready", metadata: ["socket": .string(configuration.socketPath)])

        let trimmer = Task.detached(priority: .background) {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(10))  // cancelled only at shutdown
                berth_release_free_memory()
            }
        }
        await Self.waitForTermination()
        trimmer.cancel()
        logger.info("berthd is stopping; running containers keep running")
        await server.shutdown()
        // Interfaces of containers that stopped just before go before the daemon does
        // (a restart would clean them up too, but the daemon may not come back).
        _ = await controller.waitForTeardowns(timeout: .seconds(5))
        await controller.leaveCluster()
        await controller.cancelRestarts()  // the next start decides them again
        await controller.stopEventHandling()
        await dns.shutdown()
        firewall.stop(removeRules: configuration.cleanupOnExit)
        if configuration.cleanupOnExit {
            do { try await worker.removeIsolation() } catch {
                logger.warning("cannot remove berth's routing rules", metadata: ["error": .string("\(error)")])
            }
        }
        await worker.dropSpareNamespaces()
    }

    /// The etcd client and this node's identity; the address is checked and the node
    /// registered when the controller starts (`prepareCluster`).
    private func makeClusterStore(_ settings: ClusterConfiguration, daemonID: String, worker: NetworkWorker) async throws -> ClusterStore {
        var advertise = settings.advertise
        // Docker's form is ADDRESS:PORT or INTERFACE:PORT; the port has no meaning here.
        if let colon = advertise.lastIndex(of: ":"), advertise[advertise.index(after: colon)...].allSatisfy(\.isNumber) {
            advertise = String(advertise[..<colon])
        }
        let address: IPv4Address
        if let parsed = IPv4Address(advertise) {
            address = parsed
        } else if let found = try await worker.ipv4Address(ofInterface: advertise) {
            address = found
        } else {
            throw BerthError.invalid("--cluster-advertise \(settings.advertise) is neither an IPv4 address nor an interface with one")
        }
        let tls = settings.caFile != nil || settings.certFile != nil || settings.keyFile != nil
            ? EtcdTLS(caFile: settings.caFile, certFile: settings.certFile, keyFile: settings.keyFile) : nil
        let client: EtcdClient
        do {
            client = try EtcdClient(url: settings.store, tls: tls, timeout: settings.timeout)
        } catch let error as EtcdError {
            throw BerthError.invalid("invalid --cluster-store \(settings.store): \(error)")
        }
        let node = ClusterNode(id: daemonID, address: address, hostname: ProcessInfo.processInfo.hostName)
        return ClusterStore(client: client, node: node, ttl: settings.ttl, logger: logger)
    }

    private func prepareDirectories() throws {
        for directory in [configuration.root, configuration.imagesDir, configuration.containersDir,
                          configuration.execRoot, configuration.netnsDir, configuration.overlaysDir, configuration.runcRoot] {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw BerthError(.internal, "cannot create \(directory)", cause: error)
            }
        }
        // Root's only, also on installs made before: below them are the database, bundles
        // and runc state, which hold containers' environments. Only root-run processes
        // (berthd, runc) walk these paths; containers see their own root, never the way to it.
        for directory in [configuration.root, configuration.execRoot] where chmod(directory, 0o700) != 0 {
            throw BerthError(.internal, "cannot make \(directory) private: \(String(cString: strerror(errno)))")
        }
        // Bundles written before config.json was made 0600 (a running container's is not
        // written again until its next start).
        // No directory yet (a first start): nothing to fix.
        for id in (try? FileManager.default.contentsOfDirectory(atPath: configuration.containersDir)) ?? [] {
            chmod(configuration.containerDir(id) + "/bundle/config.json", 0o600)
        }
        // Uploads a killed daemon was receiving (HTTPServer writes them as upload-*).
        for name in (try? FileManager.default.contentsOfDirectory(atPath: configuration.root)) ?? [] where name.hasPrefix("upload-") {
            do { try FileManager.default.removeItem(atPath: configuration.root + "/" + name) } catch {
                logger.warning("cannot remove an interrupted upload", metadata: ["file": .string(name), "error": .string("\(error)")])
            }
        }
        let socketDirectory = (configuration.socketPath as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true) } catch {
            throw BerthError(.internal, "cannot create \(socketDirectory) for the API socket", cause: error)
        }
    }

    private func loadDaemonID(_ store: any KeyValueStore) throws -> String {
        if let entry = try store.get(StoreKeys.daemonID) { return String(decoding: entry.value, as: UTF8.self) }
        let id = Identifiers.random()
        try store.put(StoreKeys.daemonID, Array(id.utf8), expectedRevision: 0)
        return id
    }

    /// API connections may take at most half the descriptors, so a flood of clients always
    /// leaves room for containers' namespaces, pipes and sockets.
    private static func connectionLimit(_ configured: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else {
            return configured
        }
        return max(1, min(configured, Int(clamping: limit.rlim_cur / 2)))
    }

    /// One descriptor per namespace, pipe and socket adds up with a thousand containers.
    private func raiseOpenFileLimit() {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }

    private static func waitForTermination() async {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumed = ResumeOnce(continuation)
            for number in [SIGTERM, SIGINT] {
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { resumed.resume() }
                source.resume()
                SignalSources.keep(source)
            }
        }
    }
}

/// Resumes a continuation once, whichever signal comes first.
private final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Void, Never>?>

    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = Mutex(continuation) }

    func resume() {
        continuation.withLock { pending in
            pending?.resume()
            pending = nil
        }
    }
}

/// Signal sources must stay alive for the daemon's lifetime.
private enum SignalSources {
    nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []
    static func keep(_ source: any DispatchSourceSignal) { sources.append(source) }
}

import BerthCore
import ContainerRuntime
import Foundation
import IPAM
import Namespaces

extension Controller {
    /// Brings store and kernel into agreement at start: running containers keep their
    /// network and addresses; what belonged to containers that died while the daemon was
    /// away is torn down; namespace files, veths and runc containers that no record owns
    /// (a crash in the middle of a start) are removed.
    func bootstrap() async throws {
        startEventHandling()
        // What runc lists must be final before records are compared with it.
        let unfinished = await runtime.waitForLeftoverCalls(timeout: .seconds(10))
        if !unfinished.isEmpty {
            logger.warning("runc calls of the previous daemon still running; reconciling without them",
                           metadata: ["pids": .string(unfinished.map(String.init).joined(separator: ","))])
        }
        try await prepareCluster()
        try await loadNetworks()
        var loaded: [ContainerRecord] = []
        for entry in try store.list(prefix: StoreKeys.containerPrefix) {
            loaded.append(try decode(ContainerRecord.self, entry.value))
        }
        for record in loaded { remember(record) }

        for var record in loaded where record.isRunning {
            let sandboxIntact = record.sandboxPath.map { FileManager.default.fileExists(atPath: $0) } ?? true
            if runtime.isAlive(pid: record.pid, startTime: record.pidStartTime) && sandboxIntact {
                for endpoint in record.endpoints { reserveExisting(endpoint, container: record.name) }
                resumeCapture(record)
                watch(record)
                continue
            }
            logger.info("container died while the daemon was down", metadata: ["name": .string(record.name)])
            if let sandbox = record.sandboxPath, record.networkMode.ownsSandbox {
                await worker.destroySandbox(path: sandbox, hostInterfaces: record.endpoints.map(\.hostInterface))
            }
            await cleanUp(record.id, removingRoot: false, why: "a container that died while the daemon was down")
            record.state = .exited
            record.exitCode = ProcessMonitor.unknownExitCode
            record.finishedAt = Self.timestamp()
            try save(record)
            if record.hostConfig.AutoRemove ?? false {
                do { try await removeContainer(record.id, force: true) } catch {
                    logger.warning("cannot auto-remove a container that died while the daemon was down",
                                   metadata: ["name": .string(record.name), "error": .string("\(error)")])
                }
            }
        }
        try startFirewall()
        try await synchronizeIsolation()
        try await synchronizeCluster()
        await removeLeftovers()
        await syncDNSListeners()
        publishDNS()
        // Last, once networks and the firewall are in place: what stopped while berthd was
        // away, or earlier, comes back as its policy says at a daemon start (`always` even
        // after a user's stop, as Docker).
        for record in containers.values where !record.isRunning {
            applyRestartPolicy(record.id, atDaemonStart: true)
        }
    }

    private func reserveExisting(_ endpoint: EndpointRecord, container: String) {
        do {
            if let address = endpoint.ipv4 { try networks.take(address, on: endpoint.networkID) }
            if let address = endpoint.ipv6 { try networks.take(address, on: endpoint.networkID) }
        } catch {
            logger.error("address of a running container is taken twice", metadata: [
                "container": .string(container), "error": .string("\(error)")])
        }
    }

    /// Removes what a crash in the middle of a start, stop or removal left. It runs only
    /// once `checkState` found every runc container recorded, or the user chose: with
    /// `--recover`, runc containers still without a record are left alone, and with them
    /// every namespace file and bridge port no record owns (one may be theirs).
    private func removeLeftovers() async {
        let running = containers.values.filter(\.isRunning)
        let runningIDs = Set(running.map(\.id))
        let known: [String]
        let listed: Bool
        do {
            known = try await runtime.listContainers()
            listed = true
        } catch {
            // Without runc's list nothing unowned can be told apart from a workload's.
            logger.error("cannot list runc's containers; leaving everything unrecorded alone", metadata: ["error": .string("\(error)")])
            known = []
            listed = false
        }
        let unrecorded = known.filter { containers[$0] == nil }
        let removeUnrecorded = configuration.stateRecovery == .removeUnrecorded
        let keepUnowned = !listed || (!unrecorded.isEmpty && !removeUnrecorded)
        if keepUnowned {
            logger.warning("runc containers without a record, and namespace files and bridge ports no record owns, are left untouched",
                           metadata: ["containers": .string(unrecorded.map { String($0.prefix(12)) }.joined(separator: ","))])
        }
        let ownedNamespaces = Set(running.compactMap(\.sandboxPath))
        // No such directory: no namespace file to check.
        if !keepUnowned, let files = try? FileManager.default.contentsOfDirectory(atPath: configuration.netnsDir) {
            for file in files where !ownedNamespaces.contains(configuration.netnsDir + "/" + file) {
                logger.info("removing a stray namespace file", metadata: ["file": .string(file)])
                NamespaceFile.remove(path: configuration.netnsDir + "/" + file)
            }
        }
        for driver in drivers.all { await driver.removeLeftovers(keeping: Array(networks.values)) }
        let ownedLinks = Set(running.flatMap { $0.endpoints.map(\.hostInterface) } + networks.values.compactMap(\.vxlanName))
        let bridges = networks.values.compactMap(\.bridgeName)
        if !keepUnowned {
            do {
                let stray = try await worker.bridgePorts(bridges: bridges).filter { !ownedLinks.contains($0) }
                if !stray.isEmpty {
                    logger.info("removing stray bridge ports", metadata: ["links": .string(stray.joined(separator: ","))])
                    await worker.deleteLinks(stray)
                }
            } catch {
                logger.warning("cannot list bridge ports; stray ones stay until the next start", metadata: ["error": .string("\(error)")])
            }
        }
        for id in known where !runningIDs.contains(id) {
            let recorded = containers[id] != nil
            // A record that does not say running: its start was cut short, and the client
            // never heard it succeed. No record: only the user's --remove-unrecorded removes it.
            guard recorded || removeUnrecorded else { continue }
            logger.info("removing a stray runc container", metadata: ["id": .string(String(id.prefix(12)))])
            // Already dead is what we want: the delete below is what must work.
            try? runtime.signal(id: id, pid: 0, signal: SIGKILL)
            // A recorded container keeps its changes for its next start, as after a stop.
            await cleanUp(id, removingRoot: !recorded, why: "a stray runc container")
        }
        if !keepUnowned { removeOrphanedContainerDirectories(runcKnows: Set(known)) }
        // Root filesystems of containers that are not running stay unmounted.
        for record in containers.values where !record.isRunning && !known.contains(record.id) {
            if RootFilesystem.isMounted(containerDir: configuration.containerDir(record.id)) {
                await cleanUp(record.id, removingRoot: false, why: "a stopped container's mounted root")
            }
        }
    }

    /// `containers/<id>` directories that neither a record nor runc knows: an `rm` whose
    /// last step failed on a full or read-only disk under an older berth, or a killed
    /// create. Only called once the state accounts for every runc container, so no such
    /// directory can belong to a workload; one still holding a mounted root is left alone.
    private func removeOrphanedContainerDirectories(runcKnows: Set<String>) {
        // No containers directory: nothing orphaned.
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: configuration.containersDir) else { return }
        for id in entries where containers[id] == nil && !runcKnows.contains(id) && Identifiers.isFullID(id) {
            let directory = configuration.containerDir(id)
            if RootFilesystem.isMounted(containerDir: directory) {
                logger.warning("an unrecorded container directory still has its root mounted; left alone",
                               metadata: ["directory": .string(directory)])
                continue
            }
            logger.info("removing an unrecorded container directory", metadata: ["id": .string(String(id.prefix(12)))])
            do { try ContainerFiles.removeTree(directory) } catch {
                logger.error("cannot remove an unrecorded container directory", metadata: ["error": .string(error.description)])
            }
        }
    }

    /// Start-up cleanup goes on past one container that cannot be cleaned; it is logged
    /// and tried again at the next start.
    private func cleanUp(_ id: String, removingRoot: Bool, why: String) async {
        do {
            try await runtime.destroy(id: id, directory: configuration.containerDir(id), removingRoot: removingRoot)
        } catch {
            logger.warning("cannot clean up \(why)", metadata: ["id": .string(String(id.prefix(12))), "error": .string("\(error)")])
        }
    }
}

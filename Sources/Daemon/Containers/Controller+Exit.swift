import BerthCore
import Foundation

extension Controller {
    /// Called when a container's init process is gone: it is `stopping` while its network
    /// and runtime state are taken down, then `exited`.
    func containerExited(id: String, pid: Int32, exitCode: Int32) async {
        guard var record = containers[id], case .running(let live) = record.state, live.pid == pid else { return }
        record.state = .stopping(live)
        remember(record)
        stdio.existing(id)?.processExited()
        publishDNS(removing: record)  // it stops resolving before the slower teardown
        releaseClusterAddresses(live.endpoints, of: record)  // and on other nodes soon after
        if live.publishedPorts != nil { firewall.unpublishInBackground(container: id) }
        // Ports that were not guarded are skipped by the firewall.
        if record.networkMode.ownsSandbox { firewall.unguardInBackground(ports: live.endpoints.map(\.hostInterface)) }
        // The network goes down in the background: the caller sees the container stopped
        // without waiting for the kernel, and its addresses stay taken until the
        // interfaces are really gone (reconciliation finishes the job after a crash).
        let endpoints = live.endpoints
        if let sandbox = live.sandboxPath, record.networkMode.ownsSandbox {
            let started = ContinuousClock.now
            beginTeardown(endpoints)
            worker.releaseSandbox(path: sandbox, hostInterfaces: endpoints.map(\.hostInterface)) { [weak self] in
                self?.post(.sandboxReleased(endpoints: endpoints, started: started))
            }
            if !endpoints.isEmpty { networkTimings.detach.record(ContinuousClock.now - started) }
        } else {
            releaseAddresses(endpoints)
        }
        do {
            try await runtime.destroy(id: id, directory: configuration.containerDir(id), removingRoot: false)
        } catch {
            // The process is gone; what runc or a mount kept is retried by the next start or rm.
            logger.warning("container exit: cleanup incomplete", metadata: ["name": .string(record.name), "error": .string("\(error)")])
        }
        guard var exited = containers[id] else { return }
        exited.state = .exited
        exited.exitCode = exitCode
        exited.finishedAt = Self.timestamp()
        // The process is gone whether or not this write succeeds: the API must say so.
        if let error = saveOrKeepInMemory(exited, doing: "container exit") { exitWaiters.exitNotRecorded(id, error) }
        emitDied(exited, endpoints: live.endpoints, exitCode: exitCode)
        exitWaiters.resume(id, exitCode: exitCode)
        if exited.hostConfig.AutoRemove ?? false {
            do { try await removeContainer(id, force: true) } catch {
                logger.error("cannot auto-remove container", metadata: ["id": .string(id), "error": .string("\(error)")])
            }
        } else {
            applyRestartPolicy(id, atDaemonStart: false)
        }
    }

    /// `wait`: the exit code once the container is not running.
    func waitForExit(_ reference: String) async throws -> Int32 {
        let record = try container(reference)
        switch record.state {
        case .running, .stopping, .starting: break
        case .created, .exited, .removing: return record.exitCode
        }
        return await withCheckedContinuation { continuation in
            exitWaiters.add(record.id, continuation)
        }
    }

    func logPath(_ reference: String) throws(BerthError) -> String {
        configuration.containerDir(try container(reference).id) + "/" + RuncRuntime.logFileName
    }
}

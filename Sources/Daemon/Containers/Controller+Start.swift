import BerthCore
import ContainerRuntime
import Drivers
import Firewall
import Foundation

extension Controller {
    /// `start`: reserve (addresses, the `starting` state) before the first `await`, then
    /// claim overlay addresses, publish ports, write the container's files, make its
    /// network namespace and launch its process, each step undone if a later one fails.
    /// A start by the user resets the restart count and the manual stop; one by the
    /// restart policy keeps them.
    func startContainer(_ reference: String, afterTeardowns: Bool = false, byRestartPolicy: Bool = false) async throws {
        let record = try container(reference)
        switch record.state {
        case .running: return
        case .starting, .stopping, .removing:
            throw BerthError.conflict("container \(record.name) is already starting or stopping")
        case .created, .exited: break
        }
        let image = try runtime.image(record.imageID)
        var sharedWith: ContainerRecord?
        if case .container(let target) = record.networkMode {
            let other = try container(target)
            guard other.state.isSettledRunning, other.sandboxPath != nil || other.networkMode == .host else {
                throw BerthError.conflict("cannot join the network of container \(other.name): it is not running")
            }
            sharedWith = other
        }
        // Links on the default bridge need their targets running: checked before anything is made.
        _ = try legacyLinkEnvironment(record)
        var endpoints: [EndpointRecord] = []
        do {
            for (index, attachment) in record.attachments.enumerated() {
                endpoints.append(try allocateEndpoint(attachment, interfaceName: "eth\(index)", containerID: record.id))
            }
        } catch {
            releaseAddresses(endpoints)
            // An address (a fixed one, or the last free) may belong to a container that
            // just stopped and is free once its interfaces are gone: wait for that once.
            if !afterTeardowns, record.attachments.contains(where: { teardowns.isBusy(network: $0.networkID) }) {
                for attachment in record.attachments { _ = await waitForTeardowns(network: attachment.networkID) }
                return try await startContainer(record.id, afterTeardowns: true, byRestartPolicy: byRestartPolicy)
            }
            throw error
        }
        let previous = record.state
        containers[record.id]?.state = .starting
        if !byRestartPolicy { forgetRestarts(record.id) }
        let started: ContainerRecord
        do {
            started = try await Steps.run("start of \(record.name)", logger: logger) { undo in
                let live = try await launch(record, image: image, endpoints: endpoints, sharedWith: sharedWith, undo: &undo)
                var started = record
                started.state = .running(live)
                started.exitCode = 0
                started.error = ""
                started.startedAt = Self.timestamp()
                started.restartPending = false
                if !byRestartPolicy {
                    started.restartCount = 0
                    started.manuallyStopped = false
                }
                // Not recorded, not started: a container the store does not know must not run.
                try save(started)
                return started
            }
        } catch {
            if var failed = containers[record.id] {
                failed.state = previous
                failed.error = "\(error)"
                failed.restartPending = false
                saveOrKeepInMemory(failed, doing: "failed start")
            }
            throw error
        }
        watch(started)  // its names were published before its process ran (launch)
        refreshLinkers(of: started)
        emitStarted(started)
    }

    /// The steps of a start after the reservation; each registers its undo.
    private func launch(_ record: ContainerRecord, image: ImageInfo, endpoints reserved: [EndpointRecord],
                        sharedWith: ContainerRecord?, undo: inout UndoList) async throws -> RunningContainer {
        let mode = record.networkMode
        // Overlay addresses are the cluster's: etcd confirms them before anything is made.
        var endpoints = try await claimAddresses(reserved, for: record)
        undo.add("release addresses") { [endpoints] in
            self.releaseClusterAddresses(endpoints, of: record)
            self.releaseAddresses(endpoints)
        }
        // Ports first: a port someone else holds refuses the start before any interface
        // exists. Internal networks publish nothing, as in Docker.
        var published: [PortMapping] = []
        let requests = try Self.portRequests(record.hostConfig, exposed: record.config.ExposedPorts)
        if mode.joinsNetworks, !requests.isEmpty,
           let endpoint = endpoints.first(where: { networks[$0.networkID]?.isInternal == false }) {
            published = try await firewall.publish(container: record.id, requests: requests, ipv4: endpoint.ipv4,
                                                   ipv6: endpoint.ipv6)
            undo.add("unpublish ports") { await self.firewall.unpublish(container: record.id) }
        }
        let hostname = containerHostname(record, sharedWith: sharedWith)
        try writeContainerFiles(record, hostname: hostname, endpoints: endpoints, sharedWith: sharedWith)
        var sandboxPath: String?
        switch mode {
        case .networks, .none:
            let path = configuration.netnsDir + "/" + record.id
            // One default route per family, through the first network that has a gateway.
            let routed = endpoints.firstIndex { $0.gateway != nil }
            let routed6 = endpoints.firstIndex { $0.gateway6 != nil }
            let interfaces = try endpoints.enumerated().map { index, endpoint throws(BerthError) in
                try interfaceSpec(endpoint, defaultRoute: index == routed, defaultRoute6: index == routed6)
            }
            let started = ContinuousClock.now
            // Anti-spoofing's elements go in while the worker configures the interfaces.
            let guarding = PendingGuard(firewall: firewall, identities: endpoints.map { guardedEndpoint($0) })
            let sandbox: Sandbox
            do {
                sandbox = try await worker.createSandbox(SandboxSpec(path: path, interfaces: interfaces),
                                                         portsNamed: guarding.onPortsNamed)
            } catch {
                await guarding.withdraw()
                throw error
            }
            sandboxPath = sandbox.path
            // A spare's ready-made pair keeps its own host end name.
            for (index, name) in sandbox.hostInterfaces.enumerated() where index < endpoints.count {
                endpoints[index].hostInterface = name
            }
            undo.add("remove the network namespace") { [endpoints] in
                await self.worker.destroySandbox(path: sandbox.path, hostInterfaces: endpoints.map(\.hostInterface))
            }
            // Guarded before its process can send anything.
            let guarded = try await guarding.wait()
            if !guarded.isEmpty { undo.add("stop guarding its ports") { self.firewall.unguardInBackground(ports: guarded) } }
            if !interfaces.isEmpty { networkTimings.attach.record(ContinuousClock.now - started) }
        case .container:
            sandboxPath = sharedWith?.sandboxPath
        case .host:
            sandboxPath = nil
        }
        // Its names, and the answers to its own queries, are there before its first
        // instruction runs: a process that resolves at once (compose's one-off `run`) is not
        // refused by a DNS server that does not know it yet.
        var announced = record
        announced.state = .running(RunningContainer(pid: 0, pidStartTime: 0, sandboxPath: sandboxPath,
                                                    endpoints: endpoints, publishedPorts: nil))
        publishDNS(adding: announced)
        undo.add("withdraw its names") { self.publishDNS(removing: announced) }
        let directory = configuration.containerDir(record.id)
        let launch = LaunchSpec(
            id: record.id, directory: directory, imageRootfs: image.rootfsPath, command: record.command,
            environment: LegacyLink.merge(linkVariables: try legacyLinkEnvironment(record), into: record.config.Env ?? []), workingDirectory: record.config.WorkingDir,
            hostname: hostname, networkNamespace: sandboxPath, shareHostUTS: mode == .host,
            user: record.config.User, domainname: record.config.Domainname,
            mounts: try Self.mounts(record.hostConfig),
            initBinary: record.hostConfig.Init == true ? try initBinary() : nil,
            readonlyRootfs: record.hostConfig.ReadonlyRootfs ?? false)
        let process = try await launchCapturingOutput(launch, config: record.config)
        undo.add("stop the process") {
            try? self.runtime.signal(id: record.id, pid: process.pid, signal: SIGKILL)  // already gone is fine
            try await self.runtime.destroy(id: record.id, directory: directory, removingRoot: false)
        }
        return RunningContainer(pid: process.pid, pidStartTime: process.startTime, sandboxPath: sandboxPath,
                                endpoints: endpoints, publishedPorts: published.isEmpty ? nil : published)
    }

    func watch(_ record: ContainerRecord) {
        let id = record.id
        let pid = record.pid
        runtime.watch(pid: pid, startTime: record.pidStartTime) { [weak self] code in
            self?.post(.exited(containerID: id, pid: pid, exitCode: code))
        }
    }
}

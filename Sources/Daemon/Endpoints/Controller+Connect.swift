import BerthCore
import DockerAPI
import Foundation

extension Controller {
    /// `network connect`: adds the network to the container; a running container gets a
    /// new interface (eth1, eth2, ...) at once. Its name and address are taken before the
    /// first `await`, so concurrent connects never share either.
    func connect(network reference: String, container containerReference: String, settings: EndpointSettings?,
                 afterTeardowns: Bool = false) async throws {
        let network = try network(reference)
        var record = try container(containerReference)
        if network.isConfigOnly { throw ConfigOnlyDriver.joinRefusal }
        guard drivers.of(network).connectsContainers else {
            throw BerthError.invalid("cannot connect a container to the \(network.name) network (driver \(network.driver))")
        }
        guard record.networkMode.joinsNetworks else {
            throw BerthError.invalid("container \(record.name) uses network mode \(record.networkMode) and cannot be connected to other networks")
        }
        guard !record.attachments.contains(where: { $0.networkID == network.id }),
              record.running?.connecting[network.id] == nil else {
            throw BerthError(.conflict, "endpoint with name \(record.name) already exists in network \(network.name)")
        }
        guard !record.state.isPassing else {
            throw BerthError.conflict("container \(record.name) is starting or stopping")
        }
        let attachment = try attachmentFor(network, settings: settings)
        guard case .running(var live) = record.state, live.sandboxPath != nil else {
            record.attachments.append(attachment)
            try save(record)
            return
        }
        let interfaceName = live.freeInterfaceName()
        let allocated = Result { () throws(BerthError) in
            try allocateEndpoint(attachment, interfaceName: interfaceName, containerID: record.id)
        }
        if case .failure = allocated, !afterTeardowns, teardowns.isBusy(network: network.id) {
            // The address may be held until a stopped container's interfaces are gone.
            _ = await waitForTeardowns(network: network.id)
            return try await connect(network: network.id, container: record.id, settings: settings, afterTeardowns: true)
        }
        let reserved = try allocated.get()
        live.connecting[network.id] = interfaceName
        record.state = .running(live)
        remember(record)
        let connecting = record
        defer { releaseConnecting(network: network.id, of: connecting.id, pid: live.pid) }
        try await Steps.run("connect of \(record.name) to \(network.name)", logger: logger) { undo in
            let record = connecting
            let claimed = try await claimAddresses([reserved], for: record)
            undo.add("release the address") {
                self.releaseClusterAddresses(claimed, of: record)
                self.releaseAddresses(claimed)
            }
            guard let endpoint = claimed.first else { throw BerthError(.internal, "no address was claimed") }
            // The new interface routes by default only if no current one does.
            let spec = try interfaceSpec(endpoint, defaultRoute: !live.endpoints.contains { $0.gateway != nil },
                                         defaultRoute6: !live.endpoints.contains { $0.gateway6 != nil })
            // Anti-spoofing's elements go in while the worker makes the interface.
            let guarding = PendingGuard(firewall: firewall, identities: [guardedEndpoint(endpoint)])
            guarding.send([endpoint.hostInterface])
            do {
                try await worker.attach(sandboxPath: live.sandboxPath ?? "", interface: spec)
            } catch {
                await guarding.withdraw()
                throw error
            }
            undo.add("remove the interface") { try await self.worker.detach(hostInterface: endpoint.hostInterface) }
            let guarded = try await guarding.wait()
            if !guarded.isEmpty { undo.add("stop guarding its port") { self.firewall.unguardInBackground(ports: guarded) } }
            // The container may have stopped while the interface was made.
            guard var current = containers[record.id], case .running(var now) = current.state, now.pid == live.pid else {
                throw BerthError.conflict("container \(record.name) stopped while it was being connected")
            }
            now.endpoints.append(endpoint)
            now.connecting[network.id] = nil
            current.state = .running(now)
            current.attachments.append(attachment)
            try save(current)
        }
        if let current = containers[connecting.id] {
            publishDNS(adding: current)
            // Its first network with embedded DNS: names resolve from now on, as in Docker.
            if dnsServerAddress(for: live.endpoints) == nil, dnsServerAddress(for: current.endpoints) != nil {
                useEmbeddedDNS(current)
            }
        }
        emit(network: network, "connect", ["container": connecting.id])
    }

    /// Frees a connect's hold on its interface name once it is done, if the same process
    /// still runs.
    private func releaseConnecting(network: String, of id: String, pid: Int32) {
        guard var record = containers[id], case .running(var live) = record.state, live.pid == pid else { return }
        live.connecting[network] = nil
        record.state = .running(live)
        remember(record)
    }

    func finishInterfaceTeardown(_ endpoint: EndpointRecord, container id: String, pid: Int32,
                                         started: ContinuousClock.Instant) {
        if var record = containers[id], case .running(var live) = record.state, live.pid == pid {
            live.detaching.remove(endpoint.interfaceName)
            record.state = .running(live)
            remember(record)
        }
        finishTeardown([endpoint], started: started)
    }

    /// `network disconnect`: the interface is removed from a running container at once.
    func disconnect(network reference: String, container containerReference: String, force: Bool) async throws {
        let network = try network(reference)
        var record = try container(containerReference)
        guard record.attachments.contains(where: { $0.networkID == network.id }) else {
            throw BerthError.invalid("container \(record.name) is not connected to network \(network.name)")
        }
        guard !record.state.isPassing else {
            throw BerthError.conflict("container \(record.name) is starting or stopping")
        }
        let previous = record
        record.attachments.removeAll { $0.networkID == network.id }
        guard case .running(var live) = record.state,
              let endpoint = live.endpoints.first(where: { $0.networkID == network.id }) else {
            try save(record)
            return
        }
        live.endpoints.removeAll { $0.networkID == network.id }
        // Its name stays taken until the interface is really gone.
        live.detaching.insert(endpoint.interfaceName)
        record.state = .running(live)
        try save(record)
        publishDNS(replacing: previous, with: record)
        releaseClusterAddresses([endpoint], of: previous)
        // The veth goes in the background; its address stays taken until it is gone.
        let started = ContinuousClock.now
        beginTeardown([endpoint])
        firewall.unguardInBackground(ports: [endpoint.hostInterface])
        let id = record.id
        let pid = live.pid
        await drivers.of(network).leave(endpoint) { [weak self] in
            self?.post(.interfaceReleased(endpoint, containerID: id, pid: pid, started: started))
        }
        networkTimings.detach.record(ContinuousClock.now - started)
        emit(network: network, "disconnect", ["container": id])
    }
}

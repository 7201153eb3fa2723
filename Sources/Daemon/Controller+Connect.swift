import BerthCore
import DockerAPI
import Foundation

extension Controller {
    /// `network connect`: adds the network to the container; a running container gets a
    /// new interface (eth1, eth2, ...) at once.
    func connect(network reference: String, container containerReference: String, settings: EndpointSettings?,
                 afterTeardowns: Bool = false) async throws {
        let network = try network(reference)
        var record = try container(containerReference)
        guard drivers.of(network).connectsContainers else {
            throw BerthError.invalid("cannot connect a container to the \(network.name) network (driver \(network.driver))")
        }
        guard record.networkMode.joinsNetworks else {
            throw BerthError.invalid("container \(record.name) uses network mode \(record.networkMode) and cannot be connected to other networks")
        }
        guard !record.attachments.contains(where: { $0.networkID == network.id }) else {
            throw BerthError(.conflict, "endpoint with name \(record.name) already exists in network \(network.name)")
        }
        guard !transitioning.contains(record.id), !exiting.contains(record.id) else {
            throw BerthError.conflict("container \(record.name) is starting or stopping")
        }
        let attachment = try attachmentFor(network, settings: settings)
        guard record.isRunning, let sandbox = record.sandboxPath else {
            record.attachments.append(attachment)
            try save(record)
            return
        }
        // Names of interfaces still being deleted in the background are in use too.
        let used = Set(record.endpoints.map(\.interfaceName)).union(interfacesInTeardown[record.id] ?? [])
        let index = (0...).first { !used.contains("eth\($0)") } ?? record.endpoints.count
        let allocated = Result { () throws(BerthError) in try allocateEndpoint(attachment, index: index, containerID: record.id) }
        if case .failure = allocated, !afterTeardowns, teardownsInFlight[network.id] != nil {
            // The address may be held until a stopped container's interfaces are gone.
            _ = await waitForTeardowns(network: network.id)
            return try await connect(network: network.id, container: record.id, settings: settings, afterTeardowns: true)
        }
        var claimed = [try allocated.get()]
        transitioning.insert(record.id)
        defer { transitioning.remove(record.id) }
        do {
            try await claimClusterAddresses(&claimed, for: record)
        } catch {
            releaseClusterAddresses(claimed, of: record)
            releaseAddresses(claimed)
            throw error
        }
        let endpoint = claimed[0]
        do {
            // The new interface routes by default only if no current one does.
            let spec = try interfaceSpec(endpoint, defaultRoute: !record.endpoints.contains { $0.gateway != nil },
                                         defaultRoute6: !record.endpoints.contains { $0.gateway6 != nil })
            try await worker.attach(sandboxPath: sandbox, interface: spec)
        } catch {
            releaseClusterAddresses([endpoint], of: record)
            releaseAddresses([endpoint])
            throw error
        }
        record = try container(record.id)
        record.attachments.append(attachment)
        record.endpoints.append(endpoint)
        do {
            try save(record)
        } catch {
            try? await worker.detach(hostInterface: endpoint.hostInterface)
            releaseClusterAddresses([endpoint], of: record)
            releaseAddresses([endpoint])
            throw error
        }
        publishDNS(adding: record)
    }

    private func finishInterfaceTeardown(_ endpoint: EndpointRecord, container id: String, started: ContinuousClock.Instant) {
        interfacesInTeardown[id]?.remove(endpoint.interfaceName)
        if interfacesInTeardown[id]?.isEmpty ?? false { interfacesInTeardown[id] = nil }
        finishTeardown([endpoint], started: started)
    }

    /// `network disconnect`: the interface is removed from a running container at once.
    func disconnect(network reference: String, container containerReference: String, force: Bool) async throws {
        let network = try network(reference)
        var record = try container(containerReference)
        guard record.attachments.contains(where: { $0.networkID == network.id }) else {
            throw BerthError.invalid("container \(record.name) is not connected to network \(network.name)")
        }
        guard !transitioning.contains(record.id), !exiting.contains(record.id) else {
            throw BerthError.conflict("container \(record.name) is starting or stopping")
        }
        let endpoint = record.endpoints.first { $0.networkID == network.id }
        let previous = record
        record.attachments.removeAll { $0.networkID == network.id }
        record.endpoints.removeAll { $0.networkID == network.id }
        try save(record)
        guard let endpoint else { return }
        if record.isRunning { publishDNS(replacing: previous, with: record) }
        releaseClusterAddresses([endpoint], of: previous)
        // The veth goes in the background; its address stays taken until it is gone.
        let started = ContinuousClock.now
        beginTeardown([endpoint])
        let id = record.id
        interfacesInTeardown[id, default: []].insert(endpoint.interfaceName)
        await drivers.of(network).leave(endpoint) { [weak self] in
            Task { await self?.finishInterfaceTeardown(endpoint, container: id, started: started) }
        }
        detachTimings.record(ContinuousClock.now - started)
    }
}

import BerthCore
import ContainerRuntime
import Drivers
import DockerAPI
import Firewall
import Foundation
import IPAM

extension Controller {
    // MARK: create

    func createContainer(_ request: ContainerCreateRequest, name requestedName: String?) async throws -> ContainerRecord {
        let hostConfig = request.HostConfig ?? HostConfig()
        guard let imageReference = request.config.Image, !imageReference.isEmpty else {
            throw BerthError.invalid("no image given")
        }
        let image = try runtime.image(imageReference)
        let name: String
        if let requestedName, !requestedName.isEmpty {
            let trimmed = requestedName.hasPrefix("/") ? String(requestedName.dropFirst()) : requestedName
            try Identifiers.validateName(trimmed, kind: "container")
            if let ownerID = containerIDsByName[trimmed], let owner = containers[ownerID] {
                throw BerthError.conflict("the container name \"/\(trimmed)\" is already in use by container \"\(owner.id)\". You have to remove (or rename) that container to be able to reuse that name")
            }
            guard !pendingNames.contains(trimmed) else { throw BerthError.conflict("the container name \"/\(trimmed)\" is being created") }
            name = trimmed
        } else {
            name = Identifiers.generatedName(isTaken: isNameTaken)
        }
        var config = request.config
        if (config.Entrypoint ?? []).isEmpty && (config.Cmd ?? []).isEmpty {
            config.Cmd = image.defaultCommand
        }
        guard !((config.Entrypoint ?? []) + (config.Cmd ?? [])).isEmpty else {
            throw BerthError.invalid("no command specified")
        }
        let mode = NetworkMode(hostConfig.NetworkMode)
        var attachments: [NetworkAttachment] = []
        let endpointsConfig = request.NetworkingConfig?.EndpointsConfig ?? [:]
        switch mode {
        case .networks(let primary):
            let network = try network(primary)
            guard drivers.of(network).connectsContainers else {
                throw BerthError.invalid("container cannot be attached to network \(network.name) of driver \(network.driver)")
            }
            // Docker clients key the primary network's settings by the mode they sent ("default").
            let primaryKeys: Set<String> = [primary, network.name, network.id, hostConfig.NetworkMode ?? "", "default"]
            let primarySettings = primaryKeys.lazy.compactMap { endpointsConfig[$0] }.first
            attachments.append(try attachment(for: network, settings: primarySettings,
                                              links: hostConfig.Links ?? [], macAddress: config.MacAddress))
            for (key, settings) in endpointsConfig where !primaryKeys.contains(key) {
                let extra = try self.network(key)
                guard drivers.of(extra).connectsContainers else {
                    throw BerthError.invalid("container cannot be attached to network \(extra.name) together with \(network.name)")
                }
                attachments.append(try attachment(for: extra, settings: settings, links: [], macAddress: nil))
            }
        case .host, .none:
            if let key = endpointsConfig.keys.first(where: { $0 != hostConfig.NetworkMode }) {
                throw BerthError.invalid("container sharing the \(hostConfig.NetworkMode ?? "") network cannot also join \(key)")
            }
            if !(hostConfig.Links ?? []).isEmpty { throw BerthError.invalid("conflicting options: --link and --network=\(hostConfig.NetworkMode ?? "")") }
        case .container(let reference):
            _ = try container(reference)
            if !(hostConfig.Links ?? []).isEmpty { throw BerthError.invalid("conflicting options: --link and --network=container") }
            if config.Hostname.map({ !$0.isEmpty }) ?? false {
                throw BerthError.invalid("conflicting options: --hostname and --network=container")
            }
        }
        try Self.validateEnvironment(config.Env ?? [])
        if let hostname = config.Hostname, !hostname.isEmpty {
            guard hostname.utf8.count <= 64, hostname.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }) else {
                throw BerthError.invalid("invalid hostname \"\(hostname)\"")
            }
        }
        for dns in hostConfig.Dns ?? [] where IPAddress(dns) == nil {
            throw BerthError.invalid("invalid DNS server address \(dns)")
        }
        _ = try Self.portRequests(hostConfig, exposed: config.ExposedPorts)

        let id = Identifiers.random()
        let record = ContainerRecord(
            id: id, name: name, created: Self.timestamp(), imageReference: imageReference, imageID: image.id,
            config: config, hostConfig: hostConfig, networkMode: mode,
            attachments: attachments, status: .created, pid: 0, pidStartTime: 0, exitCode: 0, error: "",
            startedAt: "0001-01-01T00:00:00Z", finishedAt: "0001-01-01T00:00:00Z", sandboxPath: nil, endpoints: [])
        do {
            try FileManager.default.createDirectory(atPath: configuration.containerDir(id), withIntermediateDirectories: true)
        } catch {
            throw BerthError(.internal, "cannot create the container directory", cause: error)
        }
        do {
            try save(record)
        } catch {
            try? FileManager.default.removeItem(atPath: configuration.containerDir(id))
            throw error
        }
        return record
    }

    func attachmentFor(_ network: NetworkRecord, settings: EndpointSettings?) throws(BerthError) -> NetworkAttachment {
        try attachment(for: network, settings: settings, links: [], macAddress: nil)
    }

    private func attachment(for network: NetworkRecord, settings: EndpointSettings?, links: [String], macAddress: String?) throws(BerthError) -> NetworkAttachment {
        var ipv4: IPv4Address?
        if let text = settings?.IPAMConfig?.IPv4Address, !text.isEmpty {
            guard !network.predefined else { throw .invalid("user specified IP address is supported on user defined networks only") }
            ipv4 = try AddressValidation.staticAddress4(
                text, subnet: network.subnet, gateway: network.gateway,
                userSubnet: network.userSubnet ?? true)
        }
        var ipv6: IPv6Address?
        if let text = settings?.IPAMConfig?.IPv6Address, !text.isEmpty {
            // berth has no default IPv6 pool: an IPv6 subnet is always the user's.
            ipv6 = try AddressValidation.staticAddress6(
                text, subnet: network.subnet6, gateway: network.gateway6,
                userSubnet: true, network: network.name)
        }
        var mac: MACAddress?
        if let text = settings?.MacAddress.flatMap({ $0.isEmpty ? nil : $0 }) ?? macAddress.flatMap({ $0.isEmpty ? nil : $0 }) {
            guard let parsed = MACAddress(text), parsed.isUnicast else { throw .invalid("invalid MAC address \(text)") }
            mac = parsed
        }
        let aliases = settings?.Aliases ?? []
        for alias in aliases where alias.isEmpty || alias.contains(" ") {
            throw .invalid("invalid network alias \"\(alias)\"")
        }
        for link in links + (settings?.Links ?? []) {
            let target = link.split(separator: ":").first.map(String.init) ?? ""
            guard !target.isEmpty else { throw .invalid("invalid link \"\(link)\"") }
            _ = try container(target)
        }
        return NetworkAttachment(networkID: network.id, aliases: aliases, links: links + (settings?.Links ?? []),
                                 requestedIPv4: ipv4, requestedIPv6: ipv6, requestedMAC: mac)
    }

    // MARK: start

    func startContainer(_ reference: String, afterTeardowns: Bool = false) async throws {
        var record = try container(reference)
        if record.isRunning { return }
        guard !transitioning.contains(record.id) else { throw BerthError.conflict("container \(record.name) is already starting or stopping") }
        let image = try runtime.image(record.imageID)
        let mode = record.networkMode
        var sharedWith: ContainerRecord?
        if case .container(let target) = mode {
            let other = try container(target)
            guard other.isRunning, other.sandboxPath != nil || other.networkMode == .host else {
                throw BerthError.conflict("cannot join the network of container \(other.name): it is not running")
            }
            sharedWith = other
        }
        // Reserve: addresses are taken synchronously, before any await.
        var endpoints: [EndpointRecord] = []
        do {
            for (index, attachment) in record.attachments.enumerated() {
                endpoints.append(try allocateEndpoint(attachment, index: index, containerID: record.id))
            }
        } catch {
            releaseAddresses(endpoints)
            // An address (a fixed one, or the last free) may belong to a container that
            // just stopped and is free once its interfaces are gone: wait for that once.
            if !afterTeardowns, record.attachments.contains(where: { teardownsInFlight[$0.networkID] != nil }) {
                for attachment in record.attachments { _ = await waitForTeardowns(network: attachment.networkID) }
                return try await startContainer(record.id, afterTeardowns: true)
            }
            throw error
        }
        transitioning.insert(record.id)
        defer { transitioning.remove(record.id) }

        let directory = configuration.containerDir(record.id)
        let hostname = containerHostname(record, sharedWith: sharedWith)
        var sandboxPath: String?
        var launched = false
        var published: [PortMapping] = []
        do {
            // Overlay addresses are the cluster's: etcd confirms them before anything is made.
            try await claimClusterAddresses(&endpoints, for: record)
            // Ports first: a port someone else holds refuses the start before any
            // interface exists. Internal networks publish nothing, as in Docker.
            let requests = try Self.portRequests(record.hostConfig, exposed: record.config.ExposedPorts)
            if mode.joinsNetworks, !requests.isEmpty,
               let endpoint = endpoints.first(where: { networks[$0.networkID]?.isInternal == false }) {
                published = try await firewall.publish(
                    container: record.id, requests: requests, ipv4: endpoint.ipv4,
                    ipv6: endpoint.ipv6)
            }
            try writeContainerFiles(record, hostname: hostname, endpoints: endpoints, sharedWith: sharedWith)
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
                let sandbox = try await worker.createSandbox(SandboxSpec(path: path, interfaces: interfaces))
                if !interfaces.isEmpty { attachTimings.record(ContinuousClock.now - started) }
                sandboxPath = sandbox.path
                // A spare's ready-made pair keeps its own host end name.
                for (index, name) in sandbox.hostInterfaces.enumerated() where index < endpoints.count {
                    endpoints[index].hostInterface = name
                }
            case .container:
                sandboxPath = sharedWith?.sandboxPath
            case .host:
                sandboxPath = nil
            }
            let launch = LaunchSpec(
                id: record.id, directory: directory, imageRootfs: image.rootfsPath, command: record.command,
                environment: record.config.Env ?? [], workingDirectory: record.config.WorkingDir,
                hostname: hostname, networkNamespace: sandboxPath, shareHostUTS: mode == .host)
            let process = try await runtime.launch(launch)
            launched = true
            record = try container(record.id)
            record.status = .running
            record.pid = process.pid
            record.pidStartTime = process.startTime
            record.exitCode = 0
            record.error = ""
            record.startedAt = Self.timestamp()
            record.sandboxPath = sandboxPath
            record.endpoints = endpoints
            record.publishedPorts = published.isEmpty ? nil : published
            try save(record)
            watch(record)
            publishDNS(adding: record)
            refreshLinkers(of: record)
        } catch {
            // Roll back in reverse order; every step is best effort so all of them run.
            if launched { await runtime.destroy(id: record.id, directory: directory, removingRoot: false) }
            if let path = sandboxPath, mode.ownsSandbox {
                await worker.destroySandbox(path: path, hostInterfaces: endpoints.map(\.hostInterface))
            }
            if !published.isEmpty { await firewall.unpublish(container: record.id) }
            releaseClusterAddresses(endpoints, of: record)
            releaseAddresses(endpoints)
            if var failed = containers[record.id] {
                failed.error = "\(error)"
                saveOrKeepInMemory(failed, doing: "failed start")
            }
            throw error
        }
    }

    func watch(_ record: ContainerRecord) {
        let id = record.id
        let pid = record.pid
        runtime.watch(pid: pid, startTime: record.pidStartTime) { [weak self] code in
            guard let self else { return }
            Task { await self.containerExited(id: id, pid: pid, exitCode: code) }
        }
    }

    private func containerHostname(_ record: ContainerRecord, sharedWith: ContainerRecord?) -> String {
        if let sharedWith { return sharedWith.config.Hostname.flatMap { $0.isEmpty ? nil : $0 } ?? sharedWith.shortID }
        if record.networkMode == .host { return ProcessInfo.processInfo.hostName }
        return record.config.Hostname.flatMap { $0.isEmpty ? nil : $0 } ?? record.shortID
    }

    private func writeContainerFiles(_ record: ContainerRecord, hostname: String, endpoints: [EndpointRecord],
                                     sharedWith: ContainerRecord?) throws(BerthError) {
        let directory = configuration.containerDir(record.id)
        if let sharedWith {
            // container:NAME sees what the other container sees.
            let source = configuration.containerDir(sharedWith.id)
            for file in ["hosts", "hostname", "resolv.conf"] {
                let text = (try? String(contentsOfFile: source + "/" + file, encoding: .utf8)) ?? ""
                try ContainerFiles.write(text, to: directory + "/" + file)
            }
            return
        }
        let hostResolv = (try? String(contentsOfFile: configuration.resolvConfPath, encoding: .utf8)) ?? ""
        let resolv: String
        if let server = dnsServerAddress(for: endpoints) {
            // On user-defined networks the embedded server answers; `--dns` servers become
            // its upstreams for this container.
            resolv = ContainerFiles.resolvConf(hostResolvConf: hostResolv, dns: [server.description],
                                               search: record.hostConfig.DnsSearch ?? [], options: record.hostConfig.DnsOptions ?? [],
                                               keepHostNameservers: false)
        } else {
            resolv = ContainerFiles.resolvConf(hostResolvConf: hostResolv, dns: record.hostConfig.Dns ?? [],
                                               search: record.hostConfig.DnsSearch ?? [], options: record.hostConfig.DnsOptions ?? [])
        }
        let hosts: String
        if record.networkMode == .host {
            hosts = (try? String(contentsOfFile: configuration.hostsPath, encoding: .utf8)) ?? ContainerFiles.hosts(hostname: hostname, addresses: [], extra: [])
        } else {
            hosts = ContainerFiles.hosts(hostname: hostname, addresses: endpoints.flatMap(\.addresses).map(\.description),
                                         extra: linkEntries(record, endpoints: endpoints))
        }
        try ContainerFiles.write(hosts, to: directory + "/hosts")
        try ContainerFiles.write(hostname + "\n", to: directory + "/hostname")
        try ContainerFiles.write(resolv, to: directory + "/resolv.conf")
    }

    // MARK: exit, stop, kill, remove

    /// Called when a container's init process is gone: its network and runtime state are
    /// torn down and its addresses released.
    func containerExited(id: String, pid: Int32, exitCode: Int32) async {
        guard let running = containers[id], running.isRunning, running.pid == pid, !exiting.contains(id) else { return }
        exiting.insert(id)
        defer { exiting.remove(id) }
        publishDNS(removing: running)  // it stops resolving before the slower teardown
        releaseClusterAddresses(running.endpoints, of: running)  // and on other nodes soon after
        if running.publishedPorts != nil { firewall.unpublishInBackground(container: id) }
        // The network goes down in the background: the caller sees the container stopped
        // without waiting for the kernel, and its addresses stay taken until the
        // interfaces are really gone (reconciliation finishes the job after a crash).
        let endpoints = running.endpoints
        let ownsSandbox = running.networkMode.ownsSandbox
        if let sandbox = running.sandboxPath, ownsSandbox {
            let started = ContinuousClock.now
            beginTeardown(endpoints)
            worker.releaseSandbox(path: sandbox, hostInterfaces: endpoints.map(\.hostInterface)) { [weak self] in
                Task { await self?.finishTeardown(endpoints, started: started) }
            }
            if !endpoints.isEmpty { detachTimings.record(ContinuousClock.now - started) }
        } else {
            releaseAddresses(endpoints)
        }
        await runtime.destroy(id: id, directory: configuration.containerDir(id), removingRoot: false)
        guard var record = containers[id] else { return }
        record.status = .exited
        record.exitCode = exitCode
        record.finishedAt = Self.timestamp()
        record.endpoints = []
        record.publishedPorts = nil
        record.sandboxPath = nil
        record.pid = 0
        // The process is gone whether or not this write succeeds: the API must say so.
        if let error = saveOrKeepInMemory(record, doing: "container exit") { unrecordedExits[id] = error }
        for waiter in exitWaiters.removeValue(forKey: id) ?? [] { waiter.resume(returning: exitCode) }
        if record.hostConfig.AutoRemove ?? false {
            do { try await removeContainer(id, force: true) } catch {
                logger.error("cannot auto-remove container", metadata: ["id": .string(id), "error": .string("\(error)")])
            }
        }
    }

    /// `wait`: the exit code once the container is not running.
    func waitForExit(_ reference: String) async throws -> Int32 {
        let record = try container(reference)
        guard record.isRunning || transitioning.contains(record.id) else { return record.exitCode }
        return await withCheckedContinuation { continuation in
            exitWaiters[record.id, default: []].append(continuation)
        }
    }

    func logPath(_ reference: String) throws(BerthError) -> String {
        configuration.containerDir(try container(reference).id) + "/" + Runtime.logFileName
    }
}

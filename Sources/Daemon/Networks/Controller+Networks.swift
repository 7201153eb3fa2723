import BerthCore
import Drivers
import DockerAPI
import IPAM

extension Controller {
    // MARK: start-up

    /// Loads networks from the store, makes the predefined ones on first start, and makes
    /// sure every local network's devices exist in the kernel. A `--bip` or `--bridge`
    /// that cannot be berth's, or a record of a driver berth does not know, is refused
    /// before anything changes.
    func loadNetworks() async throws {
        for entry in try store.list(prefix: StoreKeys.networkPrefix) {
            let record = try decode(NetworkRecord.self, entry.value)
            try drivers.checkKnown(record)
            networks[record.id] = record
        }
        if let bip = configuration.bridgeIP { try await checkBridgeIP(bip) }
        // Bridges not in the store yet: an existing link of that name must carry berth's mark.
        var newBridges: Set<String> = []
        if !networks.values.contains(where: { $0.name == "bridge" }) {
            try await createDefaultBridge()
        } else if var bridge = networks.values.first(where: { $0.name == "bridge" }) {
            let wanted = configuration.bridgeIP
            let addressChanged = wanted.map { bridge.gateway != $0.address || bridge.subnet != $0.canonical } ?? false
            let nameChanged = bridge.bridgeName != configuration.bridgeName
            if addressChanged || nameChanged {
                // --bip or --bridge changed between runs: follow them, as Docker does.
                if let wanted {
                    bridge.subnet = wanted.canonical
                    bridge.gateway = wanted.address
                }
                if nameChanged {
                    try refuseRenameWhileInUse(bridge)
                    try await drivers.bridge.ensureDevice(bridge.renamed(configuration.bridgeName), adopting: true)
                    newBridges.insert(configuration.bridgeName)
                }
                // Only removed if it is berth's (marked); an older berth's unmarked one keeps
                // its name and is given the new address below.
                await drivers.bridge.removeDevice(of: bridge)
                if nameChanged { bridge = bridge.renamed(configuration.bridgeName) }
                try save(bridge)
            }
        }
        for (name, driver) in [("host", ModeDriver.host.name), ("none", ModeDriver.null.name)]
        where !networks.values.contains(where: { $0.name == name }) {
            try save(NetworkRecord(id: Identifiers.random(), name: name, driver: driver, created: Self.timestamp(),
                                   bridgeName: nil, subnet: nil, gateway: nil, ipRange: nil, auxiliaryAddresses: [:],
                                   subnet6: nil, gateway6: nil, enableIPv6: false, isInternal: false, attachable: false,
                                   options: [:], labels: [:], predefined: true, mtu: configuration.mtu))
        }
        for network in networks.values {
            let driver = drivers.of(network)
            guard driver.connectsContainers else { continue }
            networks.add(network, pools: try AddressPools(for: network))
            // A cluster network's devices follow the cluster (synchronizeCluster).
            if driver.scope == .local {
                try await driver.restore(network, adopting: network.bridgeName.map(newBridges.contains) ?? false)
            }
        }
    }

    /// Moving the default network to another device would leave its running containers'
    /// ports on the old one: refused until they are stopped.
    private func refuseRenameWhileInUse(_ bridge: NetworkRecord) throws {
        let users = try store.list(prefix: StoreKeys.containerPrefix)
            .map { entry in try decode(ContainerRecord.self, entry.value) }
            .filter { $0.isRunning && $0.endpoints.contains { $0.networkID == bridge.id } }
        guard users.isEmpty else {
            throw BerthError.conflict("--bridge \(configuration.bridgeName): the default network is on \(bridge.bridgeName ?? "") with running containers (\(users.map(\.name).joined(separator: ", "))); stop them or keep --bridge \(bridge.bridgeName ?? "")")
        }
    }

    /// The default bridge network, made on first start: its device is made (or found
    /// carrying berth's mark) before the record is kept, so a refused `--bridge` leaves no
    /// record that a later start would take as berth's.
    private func createDefaultBridge() async throws {
        let chosen: IPv4Network
        if let bip = configuration.bridgeIP {
            chosen = bip
        } else {
            let taken = try await prefixesInUse().compactMap { entry -> IPv4Network? in
                if case .v4(let prefix) = entry.prefix { prefix } else { nil }
            }
            let subnet = try SubnetPool.dockerDefault.pick(avoiding: taken)
            chosen = subnet.with(address: try AddressValidation.firstHost(of: subnet))
        }
        let record = NetworkRecord(
            id: Identifiers.random(), name: "bridge", driver: BridgeDriver.name, created: Self.timestamp(),
            bridgeName: configuration.bridgeName, subnet: chosen.canonical, gateway: chosen.address,
            ipRange: nil, auxiliaryAddresses: [:], subnet6: nil, gateway6: nil, enableIPv6: false, isInternal: false,
            attachable: false,
            options: [
                DriverOptions.defaultBridge: "true",
                DriverOptions.icc: "true",
                DriverOptions.masquerade: "true",
                DriverOptions.hostBindingIPv4: "0.0.0.0",
                DriverOptions.bridgeName: configuration.bridgeName,
                DriverOptions.mtu: String(configuration.mtu),
            ],
            labels: [:], predefined: true, mtu: configuration.mtu)
        let created = try await drivers.bridge.ensureDevice(record, adopting: true)
        do {
            try save(record)
        } catch {
            if created { await drivers.bridge.removeDevice(of: record) }
            throw error
        }
    }

    // MARK: API

    func listNetworks() -> [NetworkRecord] {
        networks.values.sorted { $0.created < $1.created }
    }

    func networkResource(_ network: NetworkRecord) -> NetworkResource {
        var attached: [String: NetworkContainer] = [:]
        for container in containers.values where container.isRunning {
            for endpoint in container.endpoints where endpoint.networkID == network.id {
                attached[container.id] = NetworkContainer(
                    Name: container.name, EndpointID: endpoint.id, MacAddress: endpoint.mac.description,
                    IPv4Address: endpoint.ipv4.map { "\($0)/\(endpoint.prefixLength ?? 32)" } ?? "",
                    IPv6Address: endpoint.ipv6.map { "\($0)/\(endpoint.prefixLength6 ?? 128)" } ?? "")
            }
            // The host network lists the containers in host mode, as Docker's does.
            if drivers.of(network).containerMode == .host, container.networkMode == .host {
                attached[container.id] = NetworkContainer(Name: container.name, EndpointID: container.id, MacAddress: "",
                                                          IPv4Address: "", IPv6Address: "")
            }
        }
        var pools: [IPAMSettings.Pool] = network.configPools ?? []
        if let subnet = network.subnet {
            pools.append(.init(Subnet: subnet.description, IPRange: network.ipRange?.description, Gateway: network.gateway?.description,
                               AuxiliaryAddresses: network.auxiliaryAddresses.isEmpty ? nil : network.auxiliaryAddresses.mapValues(\.description)))
        }
        if let subnet6 = network.subnet6 {
            pools.append(.init(Subnet: subnet6.description, Gateway: network.gateway6?.description))
        }
        var resource = NetworkResource(
            Name: network.name, Id: network.id, Created: network.created, Scope: drivers.of(network).scope.rawValue,
            Driver: network.driver,
            EnableIPv6: network.enableIPv6,
            // Docker shows the options a create sent (the CLI sends {}); none for the predefined ones.
            IPAM: IPAMSettings(Driver: "default", Config: pools, Options: network.predefined ? nil : [:]),
            Internal: network.isInternal, Attachable: network.attachable, Containers: attached,
            Options: shownOptions(network),
            Labels: network.labels)
        resource.ConfigOnly = network.isConfigOnly
        resource.ConfigFrom = .init(Network: network.configFrom ?? "")
        return resource
    }

    /// `network create`: validated whole before anything changes (the driver and its
    /// options, then the addresses; a bridge name that is not berth's is refused
    /// untouched); a failure removes only what this request made.
    func createNetwork(_ request: NetworkCreateRequest) async throws -> NetworkRecord {
        try NetworkNames.validate(request.Name)
        guard !networks.values.contains(where: { $0.name == request.Name }) else {
            throw BerthError.conflict("network with name \(request.Name) already exists")
        }
        // Docker records a config-only network with the null driver, whatever was asked.
        if request.ConfigOnly == true { return try createConfigOnlyNetwork(request) }
        let configName = request.ConfigFrom.flatMap { $0.Network }
        if request.ConfigFrom != nil, (configName ?? "").isEmpty {
            throw BerthError.invalid("--config-from needs the name of a configuration network")
        }
        var request = request
        if let configName { request = try requestFromConfigNetwork(request, configName: configName) }
        let driver = try drivers.named(request.Driver.flatMap { $0.isEmpty ? nil : $0 } ?? BridgeDriver.name)
        try NetworkRequestCheck.refuseUnsupported(request, scope: driver.scope)
        try driver.validate(request)
        // A cluster network's name, subnet and identifiers are decided in etcd.
        if driver.scope == .global {
            if configName != nil { throw BerthError.invalid("--config-from is not supported with the \(driver.name) driver") }
            return try await createOverlayNetwork(request)
        }
        let options = request.Options ?? [:]
        let id = Identifiers.random()
        let enableIPv6 = request.EnableIPv6 ?? false
        // The one await before the reservation: from here on nothing suspends until the
        // name and subnet are taken, so concurrent creates never pick the same ones.
        let hostPrefixes = try await hostPrefixes()
        guard !networks.values.contains(where: { $0.name == request.Name }) else {
            throw BerthError.conflict("network with name \(request.Name) already exists")
        }
        // The configuration network may have gone while this create waited.
        if let configName { _ = try configNetwork(named: configName) }
        let addresses = try networkAddresses(request.IPAM?.Config ?? [], enableIPv6: enableIPv6, hostPrefixes: hostPrefixes)
        let (subnet, subnet6, gateway6) = (addresses.subnet, addresses.subnet6, addresses.gateway6)
        var record = NetworkRecord(
            id: id, name: request.Name, driver: driver.name, created: Self.timestamp(), bridgeName: nil,
            subnet: subnet, gateway: addresses.gateway, ipRange: addresses.ipRange,
            auxiliaryAddresses: addresses.auxiliary, subnet6: subnet6, gateway6: gateway6,
            enableIPv6: enableIPv6, isInternal: request.Internal ?? false, attachable: request.Attachable ?? false,
            options: options, labels: request.Labels ?? [:], predefined: false, mtu: configuration.mtu)
        record.userSubnet = addresses.userSubnet
        record.configFrom = configName
        try driver.configure(&record)
        if let bridge = record.bridgeName, networks.values.contains(where: { $0.bridgeName == bridge }) {
            throw BerthError.conflict("bridge \(bridge) is already used by another network")
        }
        let pools = try AddressPools(for: record)
        // Reserve the name before the first await so a concurrent create cannot take it.
        networks.add(record, pools: pools)
        // The record first: a crash after it leaves a network whose devices the next start
        // makes; the other way round, devices that no record names, left forever. A driver
        // whose create fails removes what it made itself.
        let made = record
        try await Steps.run("create of network \(made.name)", logger: logger) { undo in
            undo.add("release the name and subnet") { self.networks.remove(id: id) }
            try save(made)
            undo.add("forget the record") { try self.store.delete(made.storeKey) }
            try await driver.create(made)
        }
        await syncDNSListeners()
        publishDNS()
        logger.info("network created", metadata: ["name": .string(record.name), "subnet": .string(subnet.description)])
        emit(network: record, "create")
        return record
    }

    func containersUsing(_ network: NetworkRecord) -> [ContainerRecord] {
        containers.values.filter { container in
            container.attachments.contains { $0.networkID == network.id }
                || drivers.of(network).containerMode == container.networkMode
        }
    }

    func removeNetwork(_ reference: String) async throws {
        let network = try network(reference)
        guard !network.predefined else {
            // Docker's answer: 403, "operation not supported for pre-defined networks".
            throw BerthError(.forbidden, "\(network.name) is a pre-defined network and cannot be removed")
        }
        try refuseRemovingConfigInUse(network)
        let users = containersUsing(network)
        guard users.isEmpty else {
            throw BerthError.conflict("error while removing network: network \(network.name) id \(network.id) has active endpoints (\(users.map(\.name).joined(separator: ", ")))")
        }
        let driver = drivers.of(network)
        if driver.scope == .global {
            // Refused by etcd while a container on any node uses it; the other nodes follow.
            try await removeOverlayNetwork(network)
            return
        }
        let pools = networks.remove(id: network.id)
        await syncDNSListeners()
        publishDNS()
        // Veths still being deleted in the background would lose their bridge and be
        // left behind: let them go first.
        if !(await waitForTeardowns(network: network.id)) {
            logger.warning("network teardowns still running", metadata: ["network": .string(network.name)])
        }
        do {
            try await driver.delete(network)
        } catch {
            // Kept, with what could not be removed named: `network rm` can be tried again
            // (every step is idempotent), and a restart makes its rules whole meanwhile.
            networks.add(network, pools: pools)
            await syncDNSListeners()
            publishDNS()
            throw error
        }
        // The record last: a crash before this leaves the network, whose bridge the next
        // start makes again, rather than a bridge no record names.
        try store.delete(network.storeKey)
        emit(network: network, "destroy")
    }
}

import BerthCore
import Drivers
import DockerAPI
import IPAM

extension Controller {
    static let bridgeNameOption = "com.docker.network.bridge.name"
    static let mtuOption = "com.docker.network.driver.mtu"
    /// How Docker shows an overlay's VNI in `network inspect`.
    static let vxlanIDOption = "com.docker.network.driver.overlay.vxlanid_list"

    // MARK: start-up

    /// Loads networks from the store, makes the predefined ones on first start, and makes
    /// sure every bridge network's device exists in the kernel. A `--bip` or `--bridge`
    /// that cannot be berth's is refused before anything changes.
    func loadNetworks() async throws {
        for entry in try store.list(prefix: StoreKeys.networkPrefix) {
            let record = try decode(NetworkRecord.self, entry.value)
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
                    try await worker.ensureBridge(try bridgeSpec(bridge.renamed(configuration.bridgeName)), claim: .new)
                    newBridges.insert(configuration.bridgeName)
                }
                // Only removed if it is berth's (marked); an older berth's unmarked one keeps
                // its name and is given the new address below.
                if let name = bridge.bridgeName { try? await worker.removeBridge(name: name) }
                if nameChanged { bridge = bridge.renamed(configuration.bridgeName) }
                try save(bridge)
            }
        }
        for (name, driver) in [("host", "host"), ("none", "null")] where !networks.values.contains(where: { $0.name == name }) {
            try save(NetworkRecord(id: Identifiers.random(), name: name, driver: driver, created: Self.timestamp(),
                                   bridgeName: nil, subnet: nil, gateway: nil, ipRange: nil, auxiliaryAddresses: [:],
                                   subnet6: nil, gateway6: nil, enableIPv6: false, isInternal: false, attachable: false,
                                   options: [:], labels: [:], predefined: true, mtu: configuration.mtu))
        }
        for network in networks.values where network.hasBridge {
            allocators[network.id] = try makeAllocator(network)
            if let subnet6 = network.subnet6 {
                allocators6[network.id] = try IPv6AddressAllocator(subnet: subnet6, reserved: network.gateway6.map { [$0] } ?? [])
            }
            // An overlay's devices need the cluster: joining it makes them (joinCluster).
            if !network.isOverlay, let name = network.bridgeName {
                try await worker.ensureBridge(try bridgeSpec(network), claim: newBridges.contains(name) ? .new : .recorded)
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
            id: Identifiers.random(), name: "bridge", driver: "bridge", created: Self.timestamp(),
            bridgeName: configuration.bridgeName, subnet: chosen.canonical, gateway: chosen.address,
            ipRange: nil, auxiliaryAddresses: [:], subnet6: nil, gateway6: nil, enableIPv6: false, isInternal: false,
            attachable: false,
            options: [
                "com.docker.network.bridge.default_bridge": "true",
                "com.docker.network.bridge.enable_icc": "true",
                "com.docker.network.bridge.enable_ip_masquerade": "true",
                "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                Self.bridgeNameOption: configuration.bridgeName,
                Self.mtuOption: String(configuration.mtu),
            ],
            labels: [:], predefined: true, mtu: configuration.mtu)
        let created = try await worker.ensureBridge(try bridgeSpec(record), claim: .new)
        do {
            try save(record)
        } catch {
            if created { try? await worker.removeBridge(name: configuration.bridgeName) }
            throw error
        }
    }

    func makeAllocator(_ network: NetworkRecord) throws(BerthError) -> IPv4AddressAllocator {
        guard let subnet = network.subnet else {
            throw BerthError(.internal, "network \(network.name) has no valid subnet")
        }
        var reserved: [IPv4Address] = Array(network.auxiliaryAddresses.values)
        if let gateway = network.gateway { reserved.append(gateway) }
        return try IPv4AddressAllocator(subnet: subnet, range: network.ipRange, reserved: reserved)
    }

    func bridgeSpec(_ network: NetworkRecord) throws(BerthError) -> BridgeSpec {
        guard let name = network.bridgeName, let subnet = network.subnet,
              let gateway = network.gateway else {
            throw BerthError(.internal, "network \(network.name) is missing its bridge settings")
        }
        let gateway6 = network.gateway6.flatMap { address in
            network.subnet6.map { $0.with(address: address) }
        }
        return BridgeSpec(name: name, gateway: subnet.with(address: gateway), gateway6: gateway6, mtu: network.mtu)
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
            if network.driver == "host", container.networkMode == .host {
                attached[container.id] = NetworkContainer(Name: container.name, EndpointID: container.id, MacAddress: "",
                                                          IPv4Address: "", IPv6Address: "")
            }
        }
        var pools: [IPAMSettings.Pool] = []
        if let subnet = network.subnet {
            pools.append(.init(Subnet: subnet.description, IPRange: network.ipRange?.description, Gateway: network.gateway?.description,
                               AuxiliaryAddresses: network.auxiliaryAddresses.isEmpty ? nil : network.auxiliaryAddresses.mapValues(\.description)))
        }
        if let subnet6 = network.subnet6 {
            pools.append(.init(Subnet: subnet6.description, Gateway: network.gateway6?.description))
        }
        return NetworkResource(
            Name: network.name, Id: network.id, Created: network.created, Scope: network.isOverlay ? "global" : "local",
            Driver: network.driver,
            EnableIPv6: network.enableIPv6, IPAM: IPAMSettings(Driver: "default", Config: pools, Options: nil),
            Internal: network.isInternal, Attachable: network.attachable, Containers: attached,
            Options: network.vni.map { network.options.merging([Self.vxlanIDOption: String($0)]) { $1 } } ?? network.options,
            Labels: network.labels)
    }

    /// `network create`: validated whole before anything changes (a bridge name that is
    /// not berth's is refused untouched); a failure removes only what this request made.
    func createNetwork(_ request: NetworkCreateRequest) async throws -> NetworkRecord {
        try Identifiers.validateName(request.Name, kind: "network")
        guard !networks.values.contains(where: { $0.name == request.Name }) else {
            throw BerthError.conflict("network with name \(request.Name) already exists")
        }
        let driver = request.Driver.flatMap { $0.isEmpty ? nil : $0 } ?? "bridge"
        switch driver {
        case "bridge": break
        case "overlay":
            return try await createOverlayNetwork(request)
        case "host", "null":
            throw BerthError.invalid("only one instance of \"\(driver)\" network is allowed")
        default:
            throw BerthError.invalid("plugin \"\(driver)\" not found: berth supports the bridge driver")
        }
        let options = request.Options ?? [:]
        let id = Identifiers.random()
        let enableIPv6 = request.EnableIPv6 ?? false
        let addresses = try await networkAddresses(request.IPAM?.Config ?? [], enableIPv6: enableIPv6)
        let (subnet, subnet6, gateway6) = (addresses.subnet, addresses.subnet6, addresses.gateway6)
        // Checked again after the await above: a concurrent create may have won meanwhile.
        guard !networks.values.contains(where: { $0.name == request.Name }) else {
            throw BerthError.conflict("network with name \(request.Name) already exists")
        }
        try AddressValidation.checkFree(.v4(subnet), inUse: networkPrefixes())
        if let subnet6 { try AddressValidation.checkFree(.v6(subnet6), inUse: networkPrefixes()) }
        for option in Self.booleanOptions {
            if let text = options[option], Self.flag(text) == nil {
                throw BerthError.invalid("invalid value \"\(text)\" for \(option): true or false")
            }
        }
        var mtu = configuration.mtu
        if let text = options[Self.mtuOption] {
            guard let value = Int(text), (68...65535).contains(value) else { throw BerthError.invalid("invalid MTU \(text)") }
            mtu = value
        }
        let bridgeName = options[Self.bridgeNameOption] ?? "br-" + id.prefix(12)
        guard bridgeName.utf8.count <= 15, !bridgeName.isEmpty, !bridgeName.contains("/"), !bridgeName.contains(" ") else {
            throw BerthError.invalid("invalid bridge name \(bridgeName): at most 15 characters, no '/' or spaces")
        }
        if networks.values.contains(where: { $0.bridgeName == bridgeName }) {
            throw BerthError.conflict("bridge \(bridgeName) is already used by another network")
        }
        var record = NetworkRecord(
            id: id, name: request.Name, driver: "bridge", created: Self.timestamp(), bridgeName: bridgeName,
            subnet: subnet, gateway: addresses.gateway, ipRange: addresses.ipRange,
            auxiliaryAddresses: addresses.auxiliary, subnet6: subnet6, gateway6: gateway6,
            enableIPv6: enableIPv6, isInternal: request.Internal ?? false, attachable: request.Attachable ?? false,
            options: options, labels: request.Labels ?? [:], predefined: false, mtu: mtu)
        record.userSubnet = addresses.userSubnet
        record.options[Self.bridgeNameOption] = nil
        if options[Self.bridgeNameOption] != nil { record.options[Self.bridgeNameOption] = bridgeName }
        let allocator = try makeAllocator(record)
        let allocator6 = try subnet6.map { subnet throws(BerthError) in
            try IPv6AddressAllocator(subnet: subnet, reserved: gateway6.map { [$0] } ?? [])
        }
        // Reserve the name before the first await so a concurrent create cannot take it.
        networks[id] = record
        allocators[id] = allocator
        allocators6[id] = allocator6
        // The record first: a crash after it leaves a network whose bridge the next start
        // makes; the other way round, a bridge that no record names, left forever.
        // Rolled back on failure: only what this request made.
        var saved = false
        var bridgeCreated = false
        var rulesAdded = false
        var isolating = false
        do {
            try save(record)
            saved = true
            bridgeCreated = try await worker.ensureBridge(try bridgeSpec(record), claim: .new)
            if let rules = firewallNetwork(record) {
                try await firewall.addNetwork(rules)
                rulesAdded = true
            }
            isolating = true
            try await isolate(record)
        } catch {
            if saved { try? store.delete(record.storeKey) }
            networks[id] = nil
            allocators[id] = nil
            allocators6[id] = nil
            if isolating { await releaseIsolation(record) }
            if rulesAdded { try? await firewall.removeNetwork(bridge: bridgeName) }
            if bridgeCreated { try? await worker.removeBridge(name: bridgeName) }
            throw error
        }
        await syncDNSListeners()
        publishDNS()
        logger.info("network created", metadata: ["name": .string(record.name), "subnet": .string(subnet.description)])
        return record
    }

    func containersUsing(_ network: NetworkRecord) -> [ContainerRecord] {
        containers.values.filter { container in
            container.attachments.contains { $0.networkID == network.id }
                || (network.driver == "host" && container.networkMode == .host)
                || (network.driver == "null" && container.networkMode == .none)
        }
    }

    func removeNetwork(_ reference: String) async throws {
        let network = try network(reference)
        guard !network.predefined else {
            throw BerthError(.conflict, "\(network.name) is a pre-defined network and cannot be removed")
        }
        let users = containersUsing(network)
        guard users.isEmpty else {
            throw BerthError.conflict("error while removing network: network \(network.name) id \(network.id) has active endpoints (\(users.map(\.name).joined(separator: ", ")))")
        }
        if network.isOverlay {
            // Refused by etcd while a container on any node uses it; the other nodes follow.
            try await removeOverlayNetwork(network)
            return
        }
        networks[network.id] = nil
        allocators[network.id] = nil
        allocators6[network.id] = nil
        await syncDNSListeners()
        publishDNS()
        // Veths still being deleted in the background would lose their bridge and be
        // left behind: let them go first.
        if !(await waitForTeardowns(network: network.id)) {
            logger.warning("network teardowns still running", metadata: ["network": .string(network.name)])
        }
        if let bridge = network.bridgeName {
            do { try await firewall.removeNetwork(bridge: bridge) } catch {
                logger.warning("removing the network's rules failed", metadata: ["bridge": .string(bridge), "error": .string("\(error)")])
            }
            await releaseIsolation(network)
            do { try await worker.removeBridge(name: bridge) } catch {
                logger.warning("removing bridge failed", metadata: ["bridge": .string(bridge), "error": .string("\(error)")])
            }
        }
        // The record last: a crash before this leaves the network, whose bridge the next
        // start makes again, rather than a bridge no record names.
        try store.delete(network.storeKey)
    }
}

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
        _ = try ConsoleSize.check(hostConfig.ConsoleSize)
        guard let imageReference = request.config.Image, !imageReference.isEmpty else {
            throw BerthError.invalid("no image given")
        }
        let image = try runtime.image(imageReference)
        let name: String
        if let requestedName, !requestedName.isEmpty {
            let trimmed = requestedName.hasPrefix("/") ? String(requestedName.dropFirst()) : requestedName
            try Identifiers.validateName(trimmed, kind: "container")
            if let owner = containers.named(trimmed) {
                throw BerthError.conflict("the container name \"/\(trimmed)\" is already in use by container \"\(owner.id)\". You have to remove (or rename) that container to be able to reuse that name")
            }
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
            if network.isConfigOnly { throw ConfigOnlyDriver.joinRefusal }
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
                if extra.isConfigOnly { throw ConfigOnlyDriver.joinRefusal }
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
        try validateContainerOptions(config, hostConfig, mode: mode)
        if let hostname = config.Hostname, !hostname.isEmpty {
            guard hostname.utf8.count <= 64, hostname.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }) else {
                throw BerthError.invalid("invalid hostname \"\(hostname)\"")
            }
        }
        for dns in hostConfig.Dns ?? [] where IPAddress(dns) == nil {
            throw BerthError.invalid("invalid DNS server address \(dns)")
        }
        _ = try Self.portRequests(hostConfig, exposed: config.ExposedPorts)
        try RestartPolicy.validate(hostConfig)
        try PidMode.validate(hostConfig.PidMode)

        let id = Identifiers.random()
        let record = ContainerRecord(
            id: id, name: name, created: Self.timestamp(), imageReference: imageReference, imageID: image.id,
            config: config, hostConfig: hostConfig, networkMode: mode,
            attachments: attachments, state: .created, exitCode: 0, error: "",
            startedAt: ContainerRecord.neverTime, finishedAt: ContainerRecord.neverTime)
        do {
            try FileManager.default.createDirectory(atPath: configuration.containerDir(id), withIntermediateDirectories: true)
        } catch {
            throw BerthError(.internal, "cannot create the container directory", cause: error)
        }
        do {
            try save(record)
        } catch {
            do { try FileManager.default.removeItem(atPath: configuration.containerDir(id)) } catch {
                // Harmless: the next start's sweep removes directories no record knows.
                logger.warning("cannot remove the directory of a container not created", metadata: ["id": .string(id), "error": .string("\(error)")])
            }
            throw error
        }
        emit(container: record, "create")
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
        try checkLinks(links + (settings?.Links ?? []), on: network)
        try Self.refuseUnhonouredEndpointSettings(settings)
        var attachment = NetworkAttachment(networkID: network.id, aliases: aliases, links: links + (settings?.Links ?? []),
                                           requestedIPv4: ipv4, requestedIPv6: ipv6, requestedMAC: mac)
        attachment.ipamConfig = settings?.IPAMConfig
        attachment.driverOpts = settings?.DriverOpts
        return attachment
    }
}

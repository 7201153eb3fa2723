import BerthCore
import DockerAPI

/// `--config-only` and `--config-from`, as libnetwork has them: a config-only network holds
/// IPAM settings, options and labels, makes nothing and reserves no address; a network
/// made from it takes them all, and may add none of its own.
extension Controller {
    /// Docker's refusals of a config-only request (403), then the pools checked for their
    /// form only: overlaps matter when a network takes them, as Docker allocates nothing here.
    func createConfigOnlyNetwork(_ request: NetworkCreateRequest) throws -> NetworkRecord {
        if request.Ingress == true || request.Internal == true || request.Attachable == true
            || !(request.Scope ?? "").isEmpty {
            throw BerthError(.forbidden, "configuration network can only contain network specific fields. Network operator fields like [ ingress | internal | attachable | scope ] are not supported.")
        }
        if request.ConfigFrom != nil {
            throw BerthError(.forbidden, "a configuration network cannot depend on another configuration network")
        }
        try NetworkRequestCheck.refuseUnsupportedIPAM(request.IPAM)
        if request.EnableIPv4 == false {
            throw BerthError.invalid("networks without IPv4 (--ipv4=false) are not supported: berth gives every network an IPv4 subnet")
        }
        let pools = request.IPAM?.Config ?? []
        let enableIPv6 = request.EnableIPv6 ?? false
        if !pools.isEmpty || enableIPv6 {
            _ = try networkAddresses(pools, enableIPv6: enableIPv6, hostPrefixes: [], checkingOverlaps: false)
        }
        var record = NetworkRecord(
            id: Identifiers.random(), name: request.Name, driver: ConfigOnlyDriver.dockerName, created: Self.timestamp(),
            bridgeName: nil, subnet: nil, gateway: nil, ipRange: nil, auxiliaryAddresses: [:], subnet6: nil, gateway6: nil,
            enableIPv6: enableIPv6, isInternal: false, attachable: false, options: request.Options ?? [:],
            labels: request.Labels ?? [:], predefined: false, mtu: configuration.mtu)
        record.configOnly = true
        // Kept as Docker shows them: an empty field is left out, not echoed as "".
        record.configPools = pools.map { pool in
            IPAMSettings.Pool(Subnet: pool.Subnet.flatMap { $0.isEmpty ? nil : $0 },
                              IPRange: pool.IPRange.flatMap { $0.isEmpty ? nil : $0 },
                              Gateway: pool.Gateway.flatMap { $0.isEmpty ? nil : $0 },
                              AuxiliaryAddresses: pool.AuxiliaryAddresses.flatMap { $0.isEmpty ? nil : $0 })
        }
        // Synchronous from the name check to here: no concurrent create can take the name.
        networks.add(record, pools: nil)
        do {
            try save(record)
        } catch {
            networks.remove(id: record.id)
            throw error
        }
        logger.info("config-only network created", metadata: ["name": .string(record.name)])
        return record
    }

    /// The request a `--config-from NAME` network is made from: NAME's pools, IPv6 setting,
    /// options and labels. Anything of its own of those is refused with Docker's words (403).
    func requestFromConfigNetwork(_ request: NetworkCreateRequest, configName: String) throws -> NetworkCreateRequest {
        let ipam = request.IPAM
        let ownIPAM = (ipam?.Driver.map { !$0.isEmpty && $0 != "default" } ?? false)
            || !(ipam?.Config ?? []).isEmpty || !(ipam?.Options ?? [:]).isEmpty
        if ownIPAM || request.EnableIPv6 == true || request.EnableIPv4 == false || !(request.Labels ?? [:]).isEmpty {
            throw BerthError(.forbidden, "user-specified configurations are not supported if the network depends on a configuration network")
        }
        if !(request.Options ?? [:]).isEmpty {
            throw BerthError(.forbidden, "network driver options are not supported if the network depends on a configuration network")
        }
        let source = try configNetwork(named: configName)
        var effective = request
        effective.IPAM = IPAMSettings(Driver: "default", Config: source.configPools ?? [], Options: [:])
        effective.EnableIPv6 = source.enableIPv6
        effective.Options = source.options
        effective.Labels = source.labels
        return effective
    }

    /// Docker looks the configuration network up by name only.
    func configNetwork(named name: String) throws(BerthError) -> NetworkRecord {
        guard let source = networks.named(name), source.isConfigOnly else {
            throw BerthError.notFound("configuration network \"\(name)\" does not exist")
        }
        return source
    }

    /// A config-only network stays while a network made from it exists (403, Docker's words).
    func refuseRemovingConfigInUse(_ network: NetworkRecord) throws(BerthError) {
        guard network.isConfigOnly, networks.values.contains(where: { $0.configFrom == network.name }) else { return }
        throw BerthError(.forbidden, "configuration network \"\(network.name)\" is in use")
    }
}

import BerthCore
import DockerAPI
import Drivers
import IPAM

/// A bridge network's addresses, every one checked by `AddressValidation`.
struct NetworkAddresses {
    var subnet: IPv4Network
    var gateway: IPv4Address
    var ipRange: IPv4Network?
    var auxiliary: [String: IPv4Address]
    var subnet6: IPv6Network?
    var gateway6: IPv6Address?
    /// The user gave the subnet (only then does a container's `--ip` make sense, as in Docker).
    var userSubnet: Bool
}

extension Controller {
    /// What berth's networks and the host already hold, for overlap checks: other
    /// networks' subnets and the host's addresses and routes off berth's own bridges.
    func prefixesInUse(excludingNetwork excluded: String? = nil) async throws -> [PrefixInUse] {
        let host = try await hostPrefixes()
        return networkPrefixes(excludingNetwork: excluded) + host
    }

    /// The host's addresses and routes off berth's own bridges.
    func hostPrefixes() async throws -> [PrefixInUse] {
        try await worker.prefixesInUse(excludingBridges: networks.values.compactMap(\.bridgeName) + [configuration.bridgeName])
    }

    /// Other networks' subnets, read without suspending: checked again right before a new
    /// network is reserved, since a concurrent create may have taken one meanwhile.
    func networkPrefixes(excludingNetwork excluded: String? = nil) -> [PrefixInUse] {
        var inUse: [PrefixInUse] = []
        for network in networks.values where network.name != excluded {
            if let subnet = network.subnet {
                inUse.append(PrefixInUse(prefix: .v4(subnet), kind: "subnet", owner: "network \(network.name)"))
            }
            if let subnet6 = network.subnet6 {
                inUse.append(PrefixInUse(prefix: .v6(subnet6), kind: "subnet", owner: "network \(network.name)"))
            }
        }
        return inUse
    }

    /// Checks every address of a bridge network's IPAM pools before anything changes;
    /// picks a free subnet from Docker's pools when none is given. Synchronous, so that
    /// what it picks is reserved before another create can look (the host's prefixes are
    /// fetched before, `hostPrefixes`).
    func networkAddresses(_ pools: [IPAMSettings.Pool], enableIPv6: Bool,
                          hostPrefixes: [PrefixInUse], checkingOverlaps: Bool = true) throws(BerthError) -> NetworkAddresses {
        var v4Pool: IPAMSettings.Pool?
        var v6Pool: IPAMSettings.Pool?
        for pool in pools {
            guard let subnetText = pool.Subnet else {
                if pool.Gateway != nil || pool.IPRange != nil || !(pool.AuxiliaryAddresses ?? [:]).isEmpty {
                    throw BerthError.invalid("a gateway, ip-range or aux-address needs a subnet")
                }
                continue
            }
            if subnetText.contains(":") {
                guard v6Pool == nil else { throw BerthError.invalid("only one IPv6 subnet per network is supported") }
                v6Pool = pool
            } else {
                guard v4Pool == nil else { throw BerthError.invalid("only one IPv4 subnet per network is supported") }
                v4Pool = pool
            }
        }
        // A config-only network's pools are checked for their form alone (it reserves nothing).
        let inUse = checkingOverlaps ? networkPrefixes() + hostPrefixes : []
        let subnet: IPv4Network
        if let text = v4Pool?.Subnet {
            subnet = try AddressValidation.subnet4(text)
            try AddressValidation.checkFree(.v4(subnet), inUse: inUse)
        } else {
            let taken = inUse.compactMap { entry -> IPv4Network? in if case .v4(let prefix) = entry.prefix { prefix } else { nil } }
            subnet = try SubnetPool.dockerDefault.pick(avoiding: taken)
        }
        let gateway: IPv4Address
        if let text = v4Pool?.Gateway {
            gateway = try AddressValidation.gateway4(text, in: subnet)
        } else {
            gateway = try AddressValidation.firstHost(of: subnet)
        }
        let ipRange = try v4Pool?.IPRange.map { text throws(BerthError) in try AddressValidation.range4(text, in: subnet) }
        var auxiliary: [String: IPv4Address] = [:]
        for (name, value) in v4Pool?.AuxiliaryAddresses ?? [:] {
            auxiliary[name] = try AddressValidation.auxiliary4(name: name, value: value, in: subnet)
        }
        var subnet6: IPv6Network?
        var gateway6: IPv6Address?
        if let pool = v6Pool, let text = pool.Subnet {
            guard enableIPv6 else { throw BerthError.invalid("an IPv6 subnet needs --ipv6") }
            // berth hands IPv6 addresses out of the whole subnet: a range or auxiliary
            // addresses would not be honoured, so they are refused.
            if pool.IPRange != nil { throw BerthError.invalid("ip-range on an IPv6 subnet is not supported") }
            if !(pool.AuxiliaryAddresses ?? [:]).isEmpty {
                throw BerthError.invalid("aux-address on an IPv6 subnet is not supported")
            }
            let parsed = try AddressValidation.subnet6(text)
            try AddressValidation.checkFree(.v6(parsed), inUse: inUse)
            subnet6 = parsed
            if let text = pool.Gateway {
                gateway6 = try AddressValidation.gateway6(text, in: parsed)
            } else {
                gateway6 = try AddressValidation.firstHost(of: parsed)
            }
        } else if enableIPv6 {
            throw BerthError.invalid("--ipv6 needs an IPv6 --subnet (berth has no default IPv6 pool)")
        }
        return NetworkAddresses(subnet: subnet, gateway: gateway, ipRange: ipRange, auxiliary: auxiliary, subnet6: subnet6,
                                gateway6: gateway6, userSubnet: v4Pool?.Subnet != nil)
    }

    /// `berthd --bip`: refused when another interface of the host, a route, or another
    /// network already holds an overlapping prefix (the kernel would take it and route
    /// the same addresses two ways).
    func checkBridgeIP(_ bip: IPv4Network) async throws {
        let others = try await prefixesInUse(excludingNetwork: "bridge")
        try AddressValidation.checkFree(.v4(bip.canonical), field: "--bip", inUse: others)
    }
}

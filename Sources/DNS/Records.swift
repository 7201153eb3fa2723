import BerthCore

/// An upstream (recursive) DNS server: the daemon's own from its resolv.conf, or a
/// container's `--dns`.
public struct DNSUpstream: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: Int

    public init(_ address: IPAddress, port: Int = 53) {
        self.address = address
        self.port = port
    }

    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}

/// One container's membership of one network, as `DNSRecords.addContainer` takes it.
public struct DNSEndpoint: Sendable {
    public var network: String
    public var addresses: [IPAddress]
    /// `--network-alias` values for this network (several containers may share one).
    public var aliases: [String]

    public init(network: String, addresses: [IPAddress], aliases: [String] = []) {
        self.network = network
        self.addresses = addresses
        self.aliases = aliases
    }
}

/// Everything the DNS server knows, as one immutable value: build it, then hand it to
/// `DNSServer.update(_:)`, which swaps it in atomically. Queries in flight keep the snapshot
/// they started with.
///
///     var records = DNSRecords()
///     records.addNetwork("n1")
///     records.addContainer(id: fullID, name: "web", endpoints: [
///         DNSEndpoint(network: "n1", addresses: [.v4(ip)], aliases: ["frontend"]),
///     ])
///     server.update(records)
///
/// Names are case-insensitive and may be given with or without a trailing dot. Names that
/// cannot be DNS names (empty or over-long labels) are skipped.
public struct DNSRecords: Sendable {
    struct Network: Sendable {
        /// Set by `addNetwork`. Only declared networks decide whether a requester may forward.
        var isDeclared = false
        var isInternal = false
        /// Lower-cased wire name → addresses, in insertion order.
        var names: [[UInt8]: [IPAddress]] = [:]
        /// Address → PTR targets (wire names, case kept), primary name first.
        var reverse: [IPAddress: [[UInt8]]] = [:]
    }

    struct Requester: Sendable {
        var networks: [String]
        var upstreams: [DNSUpstream]?
    }

    var networks: [String: Network] = [:]
    var requesters: [IPAddress: Requester] = [:]

    public init() {}

    /// Declares a network. A requester's queries for names that are not local are forwarded
    /// only if at least one of its networks is declared and not internal. Calling it again
    /// for a known network changes only the flag.
    public mutating func addNetwork(_ id: String, isInternal: Bool = false) {
        networks[id, default: Network()].isDeclared = true
        networks[id, default: Network()].isInternal = isInternal
    }

    /// Publishes `names` → `addresses` on `network`, and, when `reverse` is set,
    /// `address` → names for PTR queries. A network never declared with `addNetwork` is
    /// a pure name scope (e.g. one container's `--link` aliases): it adds names to what its
    /// requesters see but never lets them forward.
    public mutating func add(names: [String], addresses: [IPAddress], network: String, reverse: Bool = true) {
        // Mutated in place: copying the table out and back would copy every name on the
        // network for each container added.
        Self.add(names: names, addresses: addresses, reverse: reverse, to: &networks[network, default: Network()])
    }

    private static func add(names: [String], addresses: [IPAddress], reverse: Bool, to table: inout Network) {
        for name in names {
            guard let key = NameCodec.key(name) else { continue }
            for address in addresses where !(table.names[key]?.contains(address) ?? false) {
                table.names[key, default: []].append(address)
            }
            guard reverse, let target = NameCodec.wire(name) else { continue }
            for address in addresses where !(table.reverse[address]?.contains(where: { $0.map(NameCodec.lowercased) == key }) ?? false) {
                table.reverse[address, default: []].append(target)
            }
        }
    }

    /// Takes back what `addContainer` published for these endpoints, and the container's
    /// addresses from every pure name scope (`--link` aliases of other containers), so
    /// a stop costs the same however many containers run.
    public mutating func removeContainer(id: String, name: String, endpoints: [DNSEndpoint]) {
        let shortID = String(id.prefix(12))
        let all = Set(endpoints.flatMap(\.addresses))
        for endpoint in endpoints where networks[endpoint.network] != nil {
            let keys = ([name, shortID] + endpoint.aliases).compactMap(NameCodec.key)
            Self.remove(Set(endpoint.addresses), keys: keys, from: &networks[endpoint.network, default: Network()])
        }
        for scope in networks.keys where networks[scope]?.isDeclared == false {
            let keys = networks[scope].map { Array($0.names.keys) } ?? []
            Self.remove(all, keys: keys, from: &networks[scope, default: Network()])
        }
        let networkIDs = Set(endpoints.map(\.network))
        for address in all where requesters[address].map({ !networkIDs.isDisjoint(with: $0.networks) }) ?? false {
            requesters[address] = nil
        }
    }

    /// Drops a pure name scope (one container's `--link` aliases).
    public mutating func removeScope(_ network: String) {
        if networks[network]?.isDeclared == false { networks[network] = nil }
    }

    private static func remove(_ addresses: Set<IPAddress>, keys: [[UInt8]], from table: inout Network) {
        guard !addresses.isEmpty else { return }
        for key in keys where table.names[key] != nil {
            table.names[key]?.removeAll { addresses.contains($0) }
            if table.names[key]?.isEmpty ?? false { table.names[key] = nil }
        }
        for address in addresses { table.reverse[address] = nil }
    }

    /// Says who may ask: queries from `address` see the names on `networks` and are
    /// forwarded to `upstreams` (nil: the daemon's) if one of those networks is declared and
    /// not internal. Queries from addresses never set here are refused.
    public mutating func setRequester(_ address: IPAddress, networks: [String], upstreams: [DNSUpstream]? = nil) {
        requesters[address] = Requester(networks: networks, upstreams: upstreams)
    }

    /// The usual case in one call: the container's name, its 12-character short ID and each
    /// endpoint's aliases on that endpoint's network, and each of its addresses as a requester
    /// that sees all of its networks.
    public mutating func addContainer(
        id: String, name: String, upstreams: [DNSUpstream]? = nil, endpoints: [DNSEndpoint]
    ) {
        let shortID = String(id.prefix(12))
        for endpoint in endpoints {
            add(names: [name] + endpoint.aliases, addresses: endpoint.addresses, network: endpoint.network)
            if !shortID.isEmpty {
                add(names: [shortID], addresses: endpoint.addresses, network: endpoint.network, reverse: false)
            }
        }
        let networkIDs = endpoints.map(\.network)
        for endpoint in endpoints {
            for address in endpoint.addresses {
                setRequester(address, networks: networkIDs, upstreams: upstreams)
            }
        }
    }

    /// Addresses `name` resolves to for a query from `requester` (any family), as the
    /// server would answer before round-robin rotation; nil when the name is not local.
    public func addresses(of name: String, from requester: IPAddress) -> [IPAddress]? {
        guard let key = NameCodec.key(name), let scope = requesters[requester] else { return nil }
        var result: [IPAddress] = []
        var found = false
        for network in scope.networks {
            guard let addresses = networks[network]?.names[key] else { continue }
            found = true
            for address in addresses where !result.contains(address) { result.append(address) }
        }
        return found ? result : nil
    }
}

import BerthCore
import IPAM

/// The networks the daemon knows and the address pools of those containers join. A
/// network and its pools come and go together. Owned by the controller's actor.
struct NetworkTable: Sendable {
    private var records: [String: NetworkRecord] = [:]
    private var pools: [String: AddressPools] = [:]

    /// Changing a record through the subscript keeps its pools; removing it drops them.
    subscript(id: String) -> NetworkRecord? {
        get { records[id] }
        set {
            if let newValue { records[id] = newValue } else { remove(id: id) }
        }
    }

    var values: Dictionary<String, NetworkRecord>.Values { records.values }

    /// Adds a network with its pools (none for networks containers do not join).
    mutating func add(_ record: NetworkRecord, pools: AddressPools?) {
        records[record.id] = record
        self.pools[record.id] = pools
    }

    /// Removes a network with its pools and gives back the pools (to put it back whole).
    @discardableResult
    mutating func remove(id: String) -> AddressPools? {
        records[id] = nil
        return pools.removeValue(forKey: id)
    }

    func named(_ name: String) -> NetworkRecord? { records.values.first { $0.name == name } }

    /// Docker's resolution order: full ID, exact name, then a unique ID prefix.
    func lookup(_ reference: String) throws(BerthError) -> NetworkRecord {
        if let network = records[reference] { return network }
        if let network = named(reference) { return network }
        let matches = reference.isEmpty ? [] : records.values.filter { $0.id.hasPrefix(reference) }
        if matches.count == 1, let match = matches.first { return match }
        if matches.count > 1 { throw .invalid("network \(reference) is ambiguous (\(matches.count) matches found)") }
        throw .notFound("network \(reference) not found")
    }

    // MARK: addresses

    /// Takes the requested addresses, or the next free ones, for an endpoint on `network`.
    mutating func allocate(on network: String, ipv4 requested: IPv4Address?,
                           ipv6 requested6: IPv6Address?) throws(BerthError) -> (IPv4Address, IPv6Address?) {
        guard var pool = pools[network] else { throw BerthError(.internal, "network \(network) has no address pool") }
        let address = try pool.v4.allocate(requested: requested)
        var address6: IPv6Address?
        if pool.v6 != nil {
            do { address6 = try pool.v6?.allocate(requested: requested6) } catch {
                pool.v4.release(address)
                throw error
            }
        }
        pools[network] = pool
        return (address, address6)
    }

    /// Marks an address taken that something already holds (a running container found at
    /// start, another node's container).
    mutating func take(_ address: IPv4Address, on network: String) throws(BerthError) {
        try pools[network]?.v4.allocate(address)
    }

    mutating func take(_ address: IPv6Address, on network: String) throws(BerthError) {
        try pools[network]?.v6?.allocate(address)
    }

    /// The next free IPv4 address (an overlay claim that another node won).
    mutating func next(on network: String) throws(BerthError) -> IPv4Address {
        guard var pool = pools[network] else { throw BerthError(.internal, "network \(network) has no address pool") }
        let address = try pool.v4.allocate()
        pools[network] = pool
        return address
    }

    mutating func release(_ address: IPv4Address, on network: String) { pools[network]?.v4.release(address) }
    mutating func release(_ address: IPv6Address, on network: String) { pools[network]?.v6?.release(address) }
}

/// A network's address allocators: IPv4 always, IPv6 when it has an IPv6 subnet. The
/// gateway and auxiliary addresses are never handed out.
struct AddressPools: Sendable {
    var v4: IPv4AddressAllocator
    var v6: IPv6AddressAllocator?

    init(for network: NetworkRecord) throws(BerthError) {
        guard let subnet = network.subnet else {
            throw BerthError(.internal, "network \(network.name) has no valid subnet")
        }
        var reserved: [IPv4Address] = Array(network.auxiliaryAddresses.values)
        if let gateway = network.gateway { reserved.append(gateway) }
        v4 = try IPv4AddressAllocator(subnet: subnet, range: network.ipRange, reserved: reserved)
        v6 = try network.subnet6.map { subnet throws(BerthError) in
            try IPv6AddressAllocator(subnet: subnet, reserved: network.gateway6.map { [$0] } ?? [])
        }
    }
}

extension IPv4AddressAllocator {
    /// `requested` when given (refused if taken), else the next free address.
    mutating func allocate(requested: IPv4Address?) throws(BerthError) -> IPv4Address {
        guard let requested else { return try allocate() }
        try allocate(requested)
        return requested
    }
}

extension IPv6AddressAllocator {
    mutating func allocate(requested: IPv6Address?) throws(BerthError) -> IPv6Address {
        guard let requested else { return try allocate() }
        try allocate(requested)
        return requested
    }
}

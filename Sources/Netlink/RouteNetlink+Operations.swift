import BerthCore
import Glibc

// The single-operation API, each a thin call over a `NetlinkRequest` constructor.

extension RouteNetlink {
    // MARK: Links

    public func links() throws -> [LinkInfo] {
        let request = NetlinkRequest.dumpLinks()
        return try parse(dump(request), request.operation, LinkInfo.init(message:))
    }

    /// The link with this name, or nil when there is none.
    public func link(named name: String) throws -> LinkInfo? {
        try getLink(NetlinkRequest.getLink(named: name))
    }

    /// The link with this index, or nil when there is none.
    public func link(index: Int32) throws -> LinkInfo? {
        try getLink(NetlinkRequest.getLink(index: index))
    }

    private func getLink(_ request: NetlinkRequest) throws -> LinkInfo? {
        do {
            let replies = try exchange(request).filter { $0.type == RTM.newLink }
            return try parse(replies, request.operation, LinkInfo.init(message:)).first
        } catch let error as NetlinkError where error.errno == ENODEV {
            return nil
        }
    }

    /// Creates a bridge and returns its index (from the kernel's echo of the new link,
    /// so it is one exchange).
    @discardableResult
    public func createBridge(name: String, mtu: Int? = nil, mac: MACAddress? = nil, up: Bool = false) throws -> Int32 {
        try createLink(.createBridge(name: name, mtu: mtu, mac: mac, up: up), name: name)
    }

    /// Creates a veth pair in one exchange: the peer goes straight into the namespace
    /// open at `peerNamespaceFD` (nil = this one) as `peerName` with `peerMAC`; the host
    /// end `name` joins bridge `masterIndex` and comes up when `up`. The peer starts
    /// down (bring it up from inside its namespace). Returns the host end's index.
    @discardableResult
    public func createVeth(
        name: String, peerName: String, peerNamespaceFD: Int32? = nil, masterIndex: Int32? = nil,
        up: Bool = false, mtu: Int? = nil, peerMAC: MACAddress? = nil
    ) throws -> Int32 {
        try createLink(
            .createVeth(
                name: name, peerName: peerName, peerNamespaceFD: peerNamespaceFD, masterIndex: masterIndex,
                up: up, mtu: mtu, peerMAC: peerMAC),
            name: name)
    }

    /// Creates a VXLAN device and returns its index.
    @discardableResult
    public func createVXLAN(
        name: String, vni: UInt32, localAddress: IPAddress? = nil, port: UInt16 = 4789,
        underlayIndex: Int32? = nil, learning: Bool = false, proxy: Bool = false, mtu: Int? = nil, up: Bool = false
    ) throws -> Int32 {
        try createLink(
            .createVXLAN(
                name: name, vni: vni, localAddress: localAddress, port: port,
                underlayIndex: underlayIndex, learning: learning, proxy: proxy, mtu: mtu, up: up),
            name: name)
    }

    private func createLink(_ request: NetlinkRequest, name: String) throws -> Int32 {
        let replies = try exchange(request)
        if let echoed = replies.first(where: { $0.type == RTM.newLink }),
           let header = InterfaceInfoHeader(decoding: echoed.payload) {
            return header.index
        }
        // Kernels before 6.3 do not echo new links; ask for it by name.
        guard let link = try link(named: name) else {
            throw NetlinkError(operation: request.operation, errno: ENODEV, detail: "created link not found")
        }
        return link.index
    }

    public func setUp(index: Int32) throws { try perform(.setUp(index: index)) }
    public func setDown(index: Int32) throws { try perform(.setDown(index: index)) }
    /// Enslaves link `index` to bridge `master`; 0 releases it.
    public func setMaster(index: Int32, master: Int32) throws { try perform(.setMaster(index: index, master: master)) }
    public func setMTU(index: Int32, mtu: Int) throws { try perform(.setMTU(index: index, mtu: mtu)) }
    public func setName(index: Int32, name: String) throws { try perform(.setName(index: index, name: name)) }
    public func setMAC(index: Int32, mac: MACAddress) throws { try perform(.setMAC(index: index, mac: mac)) }
    /// Moves link `index` into the network namespace open at `fd`.
    public func moveToNamespace(index: Int32, fd: Int32) throws { try perform(.moveToNamespace(index: index, fd: fd)) }
    public func deleteLink(index: Int32) throws { try perform(.deleteLink(index: index)) }
    public func deleteLink(named name: String) throws { try perform(.deleteLink(named: name)) }

    // MARK: Addresses

    public func addAddress(_ network: IPv4Network, index: Int32) throws {
        try perform(.addAddress(network, index: index))
    }

    public func addAddress(_ network: IPv6Network, index: Int32, noDAD: Bool = false) throws {
        try perform(.addAddress(network, index: index, noDAD: noDAD))
    }

    public func deleteAddress(_ network: IPv4Network, index: Int32) throws {
        try perform(.deleteAddress(network, index: index))
    }

    public func deleteAddress(_ network: IPv6Network, index: Int32) throws {
        try perform(.deleteAddress(network, index: index))
    }

    /// Addresses of one family (or both), optionally of one link only.
    public func addresses(family: AddressFamily = .unspecified, index: Int32? = nil) throws -> [AddressInfo] {
        let request = NetlinkRequest.dumpAddresses(family: family)
        let all = try parse(dump(request), request.operation, AddressInfo.init(message:))
        guard let index else { return all }
        return all.filter { $0.index == index }
    }

    // MARK: Routes

    /// Adds a main-table IPv4 route; nil destination = default route.
    public func addRoute(
        destination: IPv4Network?, gateway: IPv4Address? = nil, outputIndex: Int32? = nil, metric: UInt32? = nil
    ) throws {
        try perform(.addRoute(destination: destination, gateway: gateway, outputIndex: outputIndex, metric: metric))
    }

    public func addRoute(
        destination: IPv6Network?, gateway: IPv6Address? = nil, outputIndex: Int32? = nil, metric: UInt32? = nil
    ) throws {
        try perform(.addRoute(destination: destination, gateway: gateway, outputIndex: outputIndex, metric: metric))
    }

    public func deleteRoute(
        destination: IPv4Network?, gateway: IPv4Address? = nil, outputIndex: Int32? = nil, metric: UInt32? = nil
    ) throws {
        try perform(.deleteRoute(destination: destination, gateway: gateway, outputIndex: outputIndex, metric: metric))
    }

    public func deleteRoute(
        destination: IPv6Network?, gateway: IPv6Address? = nil, outputIndex: Int32? = nil, metric: UInt32? = nil
    ) throws {
        try perform(.deleteRoute(destination: destination, gateway: gateway, outputIndex: outputIndex, metric: metric))
    }

    /// Routes of one family (or both) in one table, the main table by default.
    public func routes(family: AddressFamily = .unspecified, table: UInt32 = 254) throws -> [RouteInfo] {
        let request = NetlinkRequest.dumpRoutes(family: family)
        return try parse(dump(request), request.operation, RouteInfo.init(message:)).filter { $0.table == table }
    }

    // MARK: Neighbours and forwarding entries

    public func addNeighbour(_ address: IPAddress, mac: MACAddress, index: Int32) throws {
        try perform(.addNeighbour(address, mac: mac, index: index))
    }

    public func deleteNeighbour(_ address: IPAddress, index: Int32) throws {
        try perform(.deleteNeighbour(address, index: index))
    }

    public func addFDB(
        mac: MACAddress, index: Int32, destination: IPAddress? = nil, vni: UInt32? = nil, append: Bool = false
    ) throws {
        try perform(.addFDB(mac: mac, index: index, destination: destination, vni: vni, append: append))
    }

    public func deleteFDB(mac: MACAddress, index: Int32, destination: IPAddress? = nil) throws {
        try perform(.deleteFDB(mac: mac, index: index, destination: destination))
    }

    /// Neighbour entries of one family; `.bridge` lists forwarding-database entries.
    public func neighbours(family: AddressFamily = .unspecified, index: Int32? = nil) throws -> [NeighbourInfo] {
        let request = NetlinkRequest.dumpNeighbours(family: family)
        let all = try parse(dump(request), request.operation, NeighbourInfo.init(message:))
        guard let index else { return all }
        return all.filter { $0.index == index }
    }
}

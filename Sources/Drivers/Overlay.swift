import BerthCore
import Netlink

/// One node's half of an overlay network: a bridge like any bridge network's, plus a VXLAN
/// device on it that carries frames to the other nodes.
public struct OverlaySpec: Sendable, Equatable {
    public var bridge: BridgeSpec
    public var vxlanName: String
    public var vni: UInt32
    /// This node's advertised (underlay) address: the tunnel's source.
    public var local: IPv4Address
    public var port: UInt16

    public init(bridge: BridgeSpec, vxlanName: String, vni: UInt32, local: IPv4Address, port: UInt16 = 4789) {
        self.bridge = bridge
        self.vxlanName = vxlanName
        self.vni = vni
        self.local = local
        self.port = port
    }
}

/// A container on another node: its address and MAC, and the node (VTEP) it is behind.
public struct RemoteNeighbour: Sendable, Hashable {
    public var address: IPv4Address
    public var mac: MACAddress
    public var vtep: IPv4Address

    public init(address: IPv4Address, mac: MACAddress, vtep: IPv4Address) {
        self.address = address
        self.mac = mac
        self.vtep = vtep
    }
}

/// The interface that carries an address: overlays are sized to its MTU.
public struct Underlay: Sendable, Equatable {
    public var index: Int32
    public var name: String
    public var mtu: Int
}

extension NetworkWorker {
    /// The interface holding `address` in the daemon's namespace, or nil if no interface has it.
    public func underlay(for address: IPv4Address) async throws -> Underlay? {
        try await thread.run { scope in
            let netlink = scope.context.netlink
            guard let owner = try netlink.addresses(family: .ipv4).first(where: { $0.address == .v4(address) }),
                  let link = try netlink.link(index: owner.index) else { return nil }
            return Underlay(index: link.index, name: link.name, mtu: link.mtu)
        }
    }

    /// The first IPv4 address of the interface called `name`, nil if it has none.
    public func ipv4Address(ofInterface name: String) async throws -> IPv4Address? {
        try await thread.run { scope in
            let netlink = scope.context.netlink
            guard let link = try netlink.link(named: name) else { return nil }
            for address in try netlink.addresses(family: .ipv4, index: link.index) {
                if case .v4(let value) = address.address { return value }
            }
            return nil
        }
    }

    /// Makes the overlay's bridge and VXLAN device exist, joined and up. Learning is off and
    /// the device answers ARP from its neighbour table (proxy): every remote container is
    /// programmed statically, so nothing floods the underlay. Idempotent.
    public func ensureOverlay(_ spec: OverlaySpec, underlayIndex: Int32?) async throws {
        try await ensureBridge(spec.bridge)
        try await thread.run { scope in
            let host = scope.context
            let bridgeIndex = try host.bridgeIndex(spec.bridge.name)
            let index: Int32
            if let link = try host.netlink.link(named: spec.vxlanName) {
                guard link.kind == "vxlan" else {
                    throw BerthError.conflict("\(spec.vxlanName) exists and is not a VXLAN device")
                }
                index = link.index
            } else {
                index = try host.netlink.createVXLAN(
                    name: spec.vxlanName, vni: spec.vni, localAddress: .v4(spec.local), port: spec.port,
                    underlayIndex: underlayIndex, learning: false, proxy: true, mtu: spec.bridge.mtu)
            }
            do {
                try host.netlink.perform([.setMaster(index: index, master: bridgeIndex), .setUp(index: index)])
            } catch {
                try? host.netlink.deleteLink(index: index)
                throw error
            }
        }
    }

    /// Removes the overlay's devices; the forwarding and neighbour entries go with them.
    public func removeOverlay(_ spec: OverlaySpec) async throws {
        try await thread.run { scope in
            if let link = try scope.context.netlink.link(named: spec.vxlanName) {
                try scope.context.netlink.deleteLink(index: link.index)
            }
        }
        try await removeBridge(name: spec.bridge.name)
    }

    /// Programs remote containers on the overlay's VXLAN device: for each, a forwarding
    /// entry (its MAC is behind its node) and a neighbour entry (its address has that MAC)
    /// for the device's ARP proxy. Removals that are already gone are not errors.
    public func updateRemoteNeighbours(vxlan: String, adding: [RemoteNeighbour], removing: [RemoteNeighbour]) async throws {
        guard !adding.isEmpty || !removing.isEmpty else { return }
        try await thread.run { scope in
            let netlink = scope.context.netlink
            guard let link = try netlink.link(named: vxlan) else {
                throw BerthError(.internal, "VXLAN device \(vxlan) does not exist")
            }
            for neighbour in removing {
                try? netlink.deleteNeighbour(.v4(neighbour.address), index: link.index)
                try? netlink.deleteFDB(mac: neighbour.mac, index: link.index, destination: .v4(neighbour.vtep))
            }
            var requests: [NetlinkRequest] = []
            for neighbour in adding {
                requests.append(.addFDB(mac: neighbour.mac, index: link.index, destination: .v4(neighbour.vtep)))
                requests.append(.addNeighbour(.v4(neighbour.address), mac: neighbour.mac, index: link.index))
            }
            if !requests.isEmpty { try netlink.perform(requests) }
        }
    }
}

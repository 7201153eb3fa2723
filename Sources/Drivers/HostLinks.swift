import BerthCore
import Glibc
import Namespaces
import Netlink

/// The host side of the worker thread: a netlink session in the daemon's namespace and
/// the bridge indexes seen so far.
final class HostLinks {
    let netlink: RouteNetlink
    var bridgeIndexes: [String: Int32] = [:]
    /// Namespaces made ahead of time (loopback up, a netlink socket open inside), so a
    /// container start does not wait for the kernel to build one.
    var spares: [SpareNamespace] = []
    /// Spares that also hold a veth pair already on a bridge (see `PortShape`).
    var pluggedSpares: [SpareNamespace] = []
    /// The shape of the last container start's first interface: the next start most
    /// likely has the same, so plugged spares are made for it.
    var hotShape: PortShape?
    var spareDirectory: String?
    var spareTarget = 0
    /// Overlays' namespaces, by the name of the host's gateway end (the network's bridge name).
    var overlays: [String: OverlayNamespace] = [:]

    init() throws {
        netlink = try RouteNetlink()
    }

    func bridgeIndex(_ name: String) throws -> Int32 {
        if let index = bridgeIndexes[name] { return index }
        guard let link = try netlink.link(named: name) else {
            throw BerthError(.internal, "bridge \(name) does not exist")
        }
        bridgeIndexes[name] = link.index
        return link.index
    }

    /// Where an interface of the network whose bridge is `bridgeName` is plugged: the
    /// host's bridge, or an overlay's bridge inside its namespace.
    func attachPoint(_ bridgeName: String) throws -> (netlink: RouteNetlink, bridge: Int32, isHost: Bool) {
        if let overlay = overlays[bridgeName] { return (overlay.netlink, overlay.bridgeIndex, false) }
        return (netlink, try bridgeIndex(bridgeName), true)
    }

    /// Gives link `index` exactly the gateway addresses (stale IPv4 ones go first) and
    /// raises it.
    func setAddresses(index: Int32, gateway: IPv4Network, gateway6: IPv6Network?) throws {
        let existing = try netlink.addresses(index: index)
        var requests: [NetlinkRequest] = []
        if !existing.contains(where: { $0.address == .v4(gateway.address) && $0.prefixLength == gateway.prefixLength }) {
            for stale in existing where stale.address.isIPv4 {
                if case .v4(let address) = stale.address, let network = IPv4Network(address: address, prefixLength: stale.prefixLength) {
                    requests.append(.deleteAddress(network, index: index))
                }
            }
            requests.append(.addAddress(gateway, index: index))
        }
        if let gateway6, !existing.contains(where: { $0.address == .v6(gateway6.address) }) {
            requests.append(.addAddress(gateway6, index: index, noDAD: true))
        }
        requests.append(.setUp(index: index))
        try netlink.perform(requests)
    }
}

/// A namespace ready for a container.
struct SpareNamespace {
    let file: NamespaceFile
    let netlink: RouteNetlink
    /// A veth pair made with the namespace, host end on its bridge.
    var port: PluggedPort?
}

/// What a veth pair made ahead of time fits: an interface on the same bridge, with the same
/// name inside, MTU and port group. Why make them ahead: adding a port to a bridge walks
/// the bridge's ports and the kernel's lists of its lower devices, so it costs more the
/// more containers a network holds (0.7 ms at 1 port, 1.5 ms at 500, for the bare netlink
/// call). A start that finds a plugged spare only sets the inside end's MAC, addresses,
/// routes and link state, which costs the same on any bridge.
///
/// On an IPv4-only network the inside end is already up (without IPv6), so the port is
/// forwarding before the container comes: raising it at start would have the bridge
/// walk its ports again, on a kernel worker holding the lock our next request waits for.
/// With IPv6 it is raised at start, after its address generation is chosen.
struct PortShape: Hashable {
    var bridgeName: String
    var containerName: String
    var mtu: Int
    var portGroup: UInt32?
    var ipv6: Bool

    init(_ interface: InterfaceSpec) {
        bridgeName = interface.bridgeName
        containerName = interface.containerName
        mtu = interface.mtu
        portGroup = interface.portGroup
        ipv6 = interface.address6 != nil
    }
}

/// A veth pair of a spare namespace: host end up on its bridge with IPv6 off, inside end
/// bare, up when the shape has no IPv6.
struct PluggedPort {
    let shape: PortShape
    let bridgeIndex: Int32
    let hostName: String
    let hostIndex: Int32
    let peerIndex: Int32
}

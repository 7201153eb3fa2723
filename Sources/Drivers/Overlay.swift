import BerthCore
import Foundation
import Glibc
import Namespaces
import Netlink

/// One node's half of an overlay network. Its data plane lives in a namespace of its own
/// (bound at `namespacePath`), as Docker's does: a bridge there joins the containers'
/// interfaces and a VXLAN device carrying frames to the other nodes (whose UDP socket stays
/// in the daemon's namespace, where it was made). Frames between containers never pass
/// the host's firewall or connection tracking: in the host's namespace, every bridged frame
/// went through them (br_netfilter), which cost a tenth of the overlay's throughput.
///
/// The host keeps one end of a veth pair named like a bridge network's bridge
/// (`bridge.name`) holding the gateway address, its other end on the namespace's bridge:
/// DNS, outbound masquerade and published ports work on it as on a bridge.
public struct OverlaySpec: Sendable, Equatable {
    public var bridge: BridgeSpec
    public var vxlanName: String
    public var vni: UInt32
    /// This node's advertised (underlay) address: the tunnel's source.
    public var local: IPv4Address
    public var port: UInt16
    public var namespacePath: String

    public init(bridge: BridgeSpec, vxlanName: String, vni: UInt32, local: IPv4Address, port: UInt16 = 4789,
                namespacePath: String) {
        self.bridge = bridge
        self.vxlanName = vxlanName
        self.vni = vni
        self.local = local
        self.port = port
        self.namespacePath = namespacePath
    }
}

/// An overlay's namespace as the worker thread holds it.
final class OverlayNamespace {
    let file: NamespaceFile
    /// A netlink session inside the namespace.
    let netlink: RouteNetlink
    let bridgeIndex: Int32
    let vxlanName: String

    init(file: NamespaceFile, netlink: RouteNetlink, bridgeIndex: Int32, vxlanName: String) {
        self.file = file
        self.netlink = netlink
        self.bridgeIndex = bridgeIndex
        self.vxlanName = vxlanName
    }

    /// Names inside the namespace: its bridge and the gateway pair's end there.
    static let bridgeName = "br0"
    static let gatewayPeerName = "gw0"
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

    /// Makes the overlay's namespace, bridge, gateway pair and VXLAN device exist, joined
    /// and up. Learning is off and the device answers ARP from its neighbour table (proxy):
    /// every remote container is programmed statically, so nothing floods the underlay.
    /// Idempotent: a restarted daemon finds and keeps what is there.
    public func ensureOverlay(_ spec: OverlaySpec, underlayIndex: Int32?) async throws {
        try await thread.run { scope in
            let host = scope.context
            let inner: RouteNetlink
            let file: NamespaceFile
            if let known = host.overlays[spec.bridge.name] {
                (file, inner) = (known.file, known.netlink)
            } else {
                (file, inner) = try Self.openOrCreateNamespace(spec.namespacePath, scope: scope)
            }
            do {
                let bridge: Int32
                if let link = try inner.link(named: OverlayNamespace.bridgeName) {
                    bridge = link.index
                } else {
                    bridge = try inner.createBridge(name: OverlayNamespace.bridgeName, mtu: spec.bridge.mtu)
                }
                try inner.perform([.setIPv6AddressGeneration(index: bridge, mode: .none), .setUp(index: bridge)])
                try Self.ensureVXLAN(spec, underlayIndex: underlayIndex, host: host, inner: inner,
                                     namespaceFD: file.fd, bridge: bridge)
                // Last: the host's end coming up (with carrier) says the overlay is usable.
                try Self.ensureGateway(spec, host: host, inner: inner, namespaceFD: file.fd, bridge: bridge)
                host.overlays[spec.bridge.name] = OverlayNamespace(
                    file: file, netlink: inner, bridgeIndex: bridge, vxlanName: spec.vxlanName)
            } catch {
                if host.overlays[spec.bridge.name] == nil {
                    driverLog.cleanUp("delete gateway \(spec.bridge.name)", during: "undoing a failed overlay setup") {
                        if let link = try host.netlink.link(named: spec.bridge.name), link.alias == Self.overlayGatewayAlias {
                            try host.netlink.removeLink(index: link.index)
                        }
                    }
                    file.close()
                    NamespaceFile.remove(path: spec.namespacePath)
                }
                throw error
            }
        }
    }

    /// The namespace bound at `path`, or a new one (lo up) if there is none or the file
    /// is stale (left by a reboot).
    private static func openOrCreateNamespace(_ path: String, scope: borrowing NamespaceScope<HostLinks>) throws -> (NamespaceFile, RouteNetlink) {
        // No file, or one that cannot be entered (stale after a reboot): nil is the answer
        // that a new namespace is needed, and making it reports what is really wrong.
        if let existing = try? NamespaceFile.open(path: path) {
            if let inner = try? scope.inside(namespace: existing.fd, { try RouteNetlink() }) { return (existing, inner) }
            existing.close()
            NamespaceFile.remove(path: path)
        }
        let file = try scope.createNamespace(at: path) { file in file }
        do {
            let inner = try scope.inside(namespace: file.fd) { try RouteNetlink() }
            try inner.perform(.setUp(index: 1))
            return (file, inner)
        } catch {
            file.close()
            NamespaceFile.remove(path: path)
            throw error
        }
    }

    /// The host's end (`spec.bridge.name`: gateway address, MAC, MTU, no IPv6 link-local
    /// address of its own) and the namespace's end on the bridge.
    private static func ensureGateway(_ spec: OverlaySpec, host: HostLinks, inner: RouteNetlink, namespaceFD: Int32,
                                      bridge: Int32) throws {
        let name = spec.bridge.name
        var outer = try host.netlink.link(named: name)
        let innerEnd = try inner.link(named: OverlayNamespace.gatewayPeerName)
        if let link = outer {
            // Berth's if marked; unmarked ones from a berthd before the mark are a bridge
            // (before overlay namespaces) or a pair whose end is in this overlay's namespace.
            let legacy = (link.alias?.isEmpty ?? true) && (link.kind == "bridge" || (link.kind == "veth" && innerEnd != nil))
            guard link.alias == Self.overlayGatewayAlias || legacy else {
                throw BerthError.conflict("\(name) exists and is not berth's: berth neither uses nor removes it")
            }
            if link.kind != "veth" || innerEnd == nil {
                // A bridge from a berthd before overlay namespaces, or half a pair.
                try host.netlink.deleteLink(index: link.index)
                outer = nil
            }
        }
        let index: Int32
        if let outer {
            index = outer.index
        } else {
            guard let created = try createPair(.createVeth(
                name: name, peerName: OverlayNamespace.gatewayPeerName, peerNamespaceFD: namespaceFD,
                mtu: spec.bridge.mtu), netlink: host.netlink) else {
                throw BerthError(.kernel, "the kernel did not echo the new link \(name)")
            }
            index = created.host
        }
        guard let peer = try inner.link(named: OverlayNamespace.gatewayPeerName) else {
            throw BerthError(.kernel, "\(OverlayNamespace.gatewayPeerName) did not appear in the overlay's namespace")
        }
        try inner.perform([.setIPv6AddressGeneration(index: peer.index, mode: .none),
                           .setMaster(index: peer.index, master: bridge), .setUp(index: peer.index)])
        var requests: [NetlinkRequest] = []
        if outer?.mac != spec.bridge.mac { requests.append(.setMAC(index: index, mac: spec.bridge.mac)) }
        if outer == nil { requests.append(.setIPv6AddressGeneration(index: index, mode: .none)) }
        if outer?.alias != Self.overlayGatewayAlias { requests.append(.setAlias(index: index, alias: Self.overlayGatewayAlias)) }
        try host.netlink.perform(requests)
        try host.setAddresses(index: index, gateway: spec.bridge.gateway, gateway6: spec.bridge.gateway6)
    }

    /// Made in the daemon's namespace (its UDP socket stays there, on the underlay), then
    /// moved into the overlay's and put on its bridge.
    private static func ensureVXLAN(_ spec: OverlaySpec, underlayIndex: Int32?, host: HostLinks, inner: RouteNetlink,
                                    namespaceFD: Int32, bridge: Int32) throws {
        var device = try inner.link(named: spec.vxlanName)
        if let link = device, link.kind != "vxlan" {
            throw BerthError.conflict("\(spec.vxlanName) exists and is not a VXLAN device")
        }
        if device == nil {
            // Left in the host's namespace by a berthd before overlay namespaces, or by a failure.
            if let stale = try host.netlink.link(named: spec.vxlanName) {
                guard stale.kind == "vxlan" else {
                    throw BerthError.conflict("\(spec.vxlanName) exists and is not a VXLAN device: berth neither uses nor removes it")
                }
                try host.netlink.deleteLink(index: stale.index)
            }
            let index = try host.netlink.createVXLAN(
                name: spec.vxlanName, vni: spec.vni, localAddress: .v4(spec.local), port: spec.port,
                underlayIndex: underlayIndex, learning: false, proxy: true, mtu: spec.bridge.mtu)
            do {
                try host.netlink.moveToNamespace(index: index, fd: namespaceFD)
            } catch {
                driverLog.cleanUp("delete \(spec.vxlanName)", during: "a VXLAN device that could not be moved") {
                    try host.netlink.removeLink(index: index)
                }
                throw error
            }
            device = try inner.link(named: spec.vxlanName)
        }
        guard let device else { throw BerthError(.kernel, "\(spec.vxlanName) did not appear in the overlay's namespace") }
        try inner.perform([.setMaster(index: device.index, master: bridge), .setUp(index: device.index)])
    }

    /// Removes the overlay's namespace (its bridge and VXLAN device go with it) and the
    /// host's end of the gateway pair; the forwarding and neighbour entries go too.
    public func removeOverlay(_ spec: OverlaySpec) async throws {
        try await thread.run { scope in
            let host = scope.context
            if let overlay = host.overlays.removeValue(forKey: spec.bridge.name) { overlay.file.close() }
            // Only what berth marked, and a VXLAN device left in the host's namespace.
            if let link = try host.netlink.link(named: spec.bridge.name), link.alias == Self.overlayGatewayAlias {
                try host.netlink.deleteLink(index: link.index)
            }
            if let link = try host.netlink.link(named: spec.vxlanName), link.kind == "vxlan" {
                try host.netlink.deleteLink(index: link.index)
            }
            NamespaceFile.remove(path: spec.namespacePath)
        }
    }

    /// Removes overlay namespace files under `directory` that are not in `keeping`, with
    /// the host's end of their gateway pairs (reconciliation).
    public func removeOverlayNamespaces(in directory: String, keeping: Set<String>) async {
        guard access(directory, F_OK) == 0 else { return }  // none made yet
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            driverLog.warning("removing unused overlay namespaces: cannot list \(directory)", metadata: ["error": .string("\(error)")])
            return
        }
        for file in files where !keeping.contains(directory + "/" + file) {
            NamespaceFile.remove(path: directory + "/" + file)
        }
    }

    /// Programs remote containers on the overlay's VXLAN device: for each, a forwarding
    /// entry (its MAC is behind its node) and a neighbour entry (its address has that MAC)
    /// for the device's ARP proxy. Removals that are already gone are not errors.
    public func updateRemoteNeighbours(vxlan: String, adding: [RemoteNeighbour], removing: [RemoteNeighbour]) async throws {
        guard !adding.isEmpty || !removing.isEmpty else { return }
        try await thread.run { scope in
            guard let overlay = scope.context.overlays.values.first(where: { $0.vxlanName == vxlan }) else {
                throw BerthError(.internal, "the overlay of VXLAN device \(vxlan) is not set up")
            }
            let netlink = overlay.netlink
            guard let link = try netlink.link(named: vxlan) else {
                throw BerthError(.internal, "VXLAN device \(vxlan) does not exist")
            }
            var failures = StepFailures("removing remote neighbours on \(vxlan)")
            for neighbour in removing {
                failures.step("neighbour \(neighbour.address)") {
                    try Self.ignoringAbsent { try netlink.deleteNeighbour(.v4(neighbour.address), index: link.index) }
                }
                failures.step("forwarding entry \(neighbour.mac)") {
                    try Self.ignoringAbsent {
                        try netlink.deleteFDB(mac: neighbour.mac, index: link.index, destination: .v4(neighbour.vtep))
                    }
                }
            }
            driverLog.report(failures)
            var requests: [NetlinkRequest] = []
            for neighbour in adding {
                requests.append(.addFDB(mac: neighbour.mac, index: link.index, destination: .v4(neighbour.vtep)))
                requests.append(.addNeighbour(.v4(neighbour.address), mac: neighbour.mac, index: link.index))
            }
            if !requests.isEmpty { try netlink.perform(requests) }
        }
    }
}

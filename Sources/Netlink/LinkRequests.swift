import BerthCore

/// Link (interface) requests: RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK with an ifinfomsg.
extension NetlinkRequest {
    /// Flags asking for an interface to be up, for ifinfomsg's flags/change pair
    /// (only the bits in `change` are applied).
    private static func upHeader(index: Int32 = 0, up: Bool) -> InterfaceInfoHeader {
        InterfaceInfoHeader(index: index, flags: up ? IFF.up : 0, change: up ? IFF.up : 0)
    }

    private static func link(
        _ operation: String, type: UInt16 = RTM.newLink, flags: UInt16 = change,
        header: InterfaceInfoHeader, _ build: (inout AttributeWriter) -> Void = { _ in }
    ) -> NetlinkRequest {
        var attributes = AttributeWriter()
        build(&attributes)
        return NetlinkRequest(
            operation: operation,
            message: NetlinkMessage(type: type, flags: flags, header: header.encoded, attributes: attributes))
    }

    /// Creates a bridge. NLM_F_ECHO makes the kernel send the new link back in the same
    /// exchange, which is how `RouteNetlink.createBridge` learns the index.
    public static func createBridge(name: String, mtu: Int? = nil, mac: MACAddress? = nil, up: Bool = false) throws -> NetlinkRequest {
        try validateInterfaceName(name)
        return link("create bridge \(name)", flags: create | Flag.echo, header: upHeader(up: up)) { attributes in
            attributes.append(IFLA.ifname, string: name)
            if let mtu { attributes.append(IFLA.mtu, uint32: UInt32(clamping: mtu)) }
            if let mac { attributes.append(IFLA.address, bytes: mac.bytes) }
            attributes.nest(IFLA.linkinfo) { $0.append(IFLA.infoKind, string: "bridge") }
        }
    }

    /// Creates a veth pair in one message: the host end `name` (optionally enslaved to
    /// `masterIndex` and brought up) and the peer, created directly inside the network
    /// namespace `peerNamespaceFD` (when given) under its final name and MAC. The peer
    /// starts down.
    public static func createVeth(
        name: String, peerName: String, peerNamespaceFD: Int32? = nil, masterIndex: Int32? = nil,
        up: Bool = false, mtu: Int? = nil, peerMAC: MACAddress? = nil, group: UInt32? = nil
    ) throws -> NetlinkRequest {
        try validateInterfaceName(name)
        try validateInterfaceName(peerName)
        return link("create veth \(name)", flags: create | Flag.echo, header: upHeader(up: up)) { attributes in
            attributes.append(IFLA.ifname, string: name)
            if let mtu { attributes.append(IFLA.mtu, uint32: UInt32(clamping: mtu)) }
            if let masterIndex { attributes.append(IFLA.master, int32: masterIndex) }
            // The interface group lets firewall rules match a class of ports by number.
            if let group { attributes.append(IFLA.group, uint32: group) }
            attributes.nest(IFLA.linkinfo) { info in
                info.append(IFLA.infoKind, string: "veth")
                info.nest(IFLA.infoData) { data in
                    // The peer is described like a link of its own: an ifinfomsg, then
                    // its attributes. It is a struct-prefixed payload, not a plain nest.
                    data.nest(IFLA.vethInfoPeer, flagNested: false) { peer in
                        // Left down: the kernel configures the peer before the pair
                        // is linked, and opening it then fails with ENOTCONN. It is
                        // raised from inside its namespace, with its addresses.
                        peer.appendHeader(InterfaceInfoHeader().encoded)
                        peer.append(IFLA.ifname, string: peerName)
                        if let peerMAC { peer.append(IFLA.address, bytes: peerMAC.bytes) }
                        if let mtu { peer.append(IFLA.mtu, uint32: UInt32(clamping: mtu)) }
                        if let peerNamespaceFD { peer.append(IFLA.netNsFD, int32: peerNamespaceFD) }
                    }
                }
            }
        }
    }

    /// Creates a VXLAN device for an overlay: VNI, local tunnel address, UDP port,
    /// the underlay device, and (off by default, as Docker does) source-address learning.
    /// With `proxy` the device answers ARP/NDP itself from its neighbour table, so address
    /// resolution for remote containers never floods the underlay.
    public static func createVXLAN(
        name: String, vni: UInt32, localAddress: IPAddress? = nil, port: UInt16 = 4789,
        underlayIndex: Int32? = nil, learning: Bool = false, proxy: Bool = false, mtu: Int? = nil, up: Bool = false
    ) throws -> NetlinkRequest {
        try validateInterfaceName(name)
        return link("create vxlan \(name)", flags: create | Flag.echo, header: upHeader(up: up)) { attributes in
            attributes.append(IFLA.ifname, string: name)
            if let mtu { attributes.append(IFLA.mtu, uint32: UInt32(clamping: mtu)) }
            attributes.nest(IFLA.linkinfo) { info in
                info.append(IFLA.infoKind, string: "vxlan")
                info.nest(IFLA.infoData) { data in
                    data.append(IFLA.vxlanID, uint32: vni)
                    switch localAddress {
                    case .v4(let address): data.append(IFLA.vxlanLocal, bytes: address.bytes)
                    case .v6(let address): data.append(IFLA.vxlanLocal6, bytes: address.bytes)
                    case nil: break
                    }
                    if let underlayIndex { data.append(IFLA.vxlanLink, int32: underlayIndex) }
                    data.append(IFLA.vxlanPort, bigEndian16: port)
                    data.append(IFLA.vxlanLearning, uint8: learning ? 1 : 0)
                    if proxy { data.append(IFLA.vxlanProxy, uint8: 1) }
                }
            }
        }
    }

    public static func setUp(index: Int32) -> NetlinkRequest {
        link("set link \(index) up", header: InterfaceInfoHeader(index: index, flags: IFF.up, change: IFF.up))
    }

    public static func setDown(index: Int32) -> NetlinkRequest {
        link("set link \(index) down", header: InterfaceInfoHeader(index: index, flags: 0, change: IFF.up))
    }

    /// Enslaves link `index` to `master` (a bridge); master 0 releases it (nomaster). The
    /// kernel does nothing when `master` already is its master. With `alias`, also sets
    /// the link's alias (IFLA_IFALIAS); an empty one removes it.
    public static func setMaster(index: Int32, master: Int32, alias: String? = nil) -> NetlinkRequest {
        let operation = master == 0 ? "release link \(index) from its master" : "set master of link \(index) to \(master)"
        return link(operation, header: InterfaceInfoHeader(index: index)) { attributes in
            attributes.append(IFLA.master, int32: master)
            // Without a NUL: the kernel takes the attribute's length as the alias's.
            if let alias { attributes.append(IFLA.ifalias, bytes: Array(alias.utf8)) }
        }
    }

    /// Sets link `index`'s alias (IFLA_IFALIAS, shown by `ip link`); an empty one removes it.
    public static func setAlias(index: Int32, alias: String) -> NetlinkRequest {
        link("set alias of link \(index)", header: InterfaceInfoHeader(index: index)) {
            $0.append(IFLA.ifalias, bytes: Array(alias.utf8))
        }
    }

    public static func setMTU(index: Int32, mtu: Int) -> NetlinkRequest {
        link("set mtu of link \(index) to \(mtu)", header: InterfaceInfoHeader(index: index)) {
            $0.append(IFLA.mtu, uint32: UInt32(clamping: mtu))
        }
    }

    public static func setName(index: Int32, name: String) throws -> NetlinkRequest {
        try validateInterfaceName(name)
        return link("rename link \(index) to \(name)", header: InterfaceInfoHeader(index: index)) {
            $0.append(IFLA.ifname, string: name)
        }
    }

    public static func setMAC(index: Int32, mac: MACAddress) -> NetlinkRequest {
        link("set mac of link \(index) to \(mac)", header: InterfaceInfoHeader(index: index)) {
            $0.append(IFLA.address, bytes: mac.bytes)
        }
    }

    /// Sets how the kernel makes link `index`'s IPv6 link-local address (IFLA_AF_SPEC →
    /// AF_INET6 → IFLA_INET6_ADDR_GEN_MODE). With `.none` the kernel adds no link-local
    /// address, prefix route, DAD or MLD for it when the link gets carrier. The kernel
    /// refuses this attribute when a link is created, so it is sent right after, before
    /// the link has carrier.
    public static func setIPv6AddressGeneration(index: Int32, mode: IPv6AddressGeneration) -> NetlinkRequest {
        link("set ipv6 address generation of link \(index) to \(mode)", header: InterfaceInfoHeader(index: index)) {
            $0.nest(IFLA.afSpec) { spec in
                spec.nest(Family.inet6) { $0.append(IFLA.inet6AddrGenMode, uint8: mode.rawValue) }
            }
        }
    }

    /// Moves link `index` into the network namespace open at descriptor `fd`.
    public static func moveToNamespace(index: Int32, fd: Int32) -> NetlinkRequest {
        link("move link \(index) to namespace fd \(fd)", header: InterfaceInfoHeader(index: index)) {
            $0.append(IFLA.netNsFD, int32: fd)
        }
    }

    /// Deletes a link; deleting either end of a veth pair deletes both.
    public static func deleteLink(index: Int32) -> NetlinkRequest {
        link("delete link \(index)", type: RTM.delLink, header: InterfaceInfoHeader(index: index))
    }

    public static func deleteLink(named name: String) throws -> NetlinkRequest {
        try validateInterfaceName(name)
        return link("delete link \(name)", type: RTM.delLink, header: InterfaceInfoHeader()) {
            $0.append(IFLA.ifname, string: name)
        }
    }

    /// Reads one link. IFLA_EXT_MASK skips the statistics, which are most of a reply.
    public static func getLink(index: Int32) -> NetlinkRequest {
        link("get link \(index)", type: RTM.getLink, header: InterfaceInfoHeader(index: index)) {
            $0.append(IFLA.extMask, uint32: IFLA.skipStats)
        }
    }

    public static func getLink(named name: String) throws -> NetlinkRequest {
        try validateInterfaceName(name)
        return link("get link \(name)", type: RTM.getLink, header: InterfaceInfoHeader()) {
            $0.append(IFLA.ifname, string: name)
            $0.append(IFLA.extMask, uint32: IFLA.skipStats)
        }
    }

    public static func dumpLinks() -> NetlinkRequest {
        link("list links", type: RTM.getLink, flags: dump, header: InterfaceInfoHeader()) {
            $0.append(IFLA.extMask, uint32: IFLA.skipStats)
        }
    }
}

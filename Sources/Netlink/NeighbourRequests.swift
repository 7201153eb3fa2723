import BerthCore

/// Neighbour (ARP/NDP) and bridge/VXLAN forwarding-database entries: RTM_NEWNEIGH /
/// RTM_DELNEIGH / RTM_GETNEIGH with an ndmsg. Overlay networks program these statically
/// instead of relying on learning.
extension NetlinkRequest {
    private static func neighbour(
        _ operation: String, type: UInt16, flags: UInt16, header: NeighbourHeader,
        _ build: (inout AttributeWriter) -> Void
    ) -> NetlinkRequest {
        var attributes = AttributeWriter()
        build(&attributes)
        return NetlinkRequest(
            operation: operation,
            message: NetlinkMessage(type: type, flags: flags, header: header.encoded, attributes: attributes))
    }

    private static func family(of address: IPAddress) -> AddressFamily { address.isIPv4 ? .ipv4 : .ipv6 }

    /// Adds or replaces a permanent neighbour entry (`ip neigh replace ADDR lladdr MAC
    /// dev INDEX nud permanent`).
    public static func addNeighbour(_ address: IPAddress, mac: MACAddress, index: Int32) -> NetlinkRequest {
        var header = NeighbourHeader(family: family(of: address), index: index)
        header.state = NDA.statePermanent
        return neighbour(
            "add neighbour \(address) lladdr \(mac) on link \(index)", type: RTM.newNeigh,
            flags: Flag.request | Flag.ack | Flag.create | Flag.replace, header: header
        ) { attributes in
            attributes.append(NDA.dst, bytes: address.bytes)
            attributes.append(NDA.lladdr, bytes: mac.bytes)
        }
    }

    public static func deleteNeighbour(_ address: IPAddress, index: Int32) -> NetlinkRequest {
        neighbour(
            "delete neighbour \(address) on link \(index)", type: RTM.delNeigh, flags: change,
            header: NeighbourHeader(family: family(of: address), index: index)
        ) { $0.append(NDA.dst, bytes: address.bytes) }
    }

    /// Adds a permanent forwarding entry on the device itself (NTF_SELF), e.g. on a VXLAN
    /// device "MAC is behind remote VTEP `destination`" (`bridge fdb append/replace`).
    /// `append` adds another destination for the same MAC (flooding entries for the
    /// all-zero MAC); otherwise the entry is replaced.
    public static func addFDB(
        mac: MACAddress, index: Int32, destination: IPAddress? = nil, vni: UInt32? = nil, append: Bool = false
    ) -> NetlinkRequest {
        var header = NeighbourHeader(family: .bridge, index: index)
        header.state = NDA.statePermanent
        header.flags = NDA.flagSelf
        var operation = "add fdb entry \(mac) on link \(index)"
        if let destination { operation += " to \(destination)" }
        return neighbour(
            operation, type: RTM.newNeigh,
            flags: Flag.request | Flag.ack | Flag.create | (append ? Flag.append : Flag.replace), header: header
        ) { attributes in
            attributes.append(NDA.lladdr, bytes: mac.bytes)
            if let destination { attributes.append(NDA.dst, bytes: destination.bytes) }
            if let vni { attributes.append(NDA.vni, uint32: vni) }
        }
    }

    public static func deleteFDB(mac: MACAddress, index: Int32, destination: IPAddress? = nil) -> NetlinkRequest {
        var header = NeighbourHeader(family: .bridge, index: index)
        header.flags = NDA.flagSelf
        var operation = "delete fdb entry \(mac) on link \(index)"
        if let destination { operation += " to \(destination)" }
        return neighbour(operation, type: RTM.delNeigh, flags: change, header: header) { attributes in
            attributes.append(NDA.lladdr, bytes: mac.bytes)
            if let destination { attributes.append(NDA.dst, bytes: destination.bytes) }
        }
    }

    /// Dumps neighbour entries of one family; `.bridge` lists forwarding entries.
    public static func dumpNeighbours(family: AddressFamily = .unspecified) -> NetlinkRequest {
        neighbour(
            "list neighbours", type: RTM.getNeigh, flags: dump,
            header: NeighbourHeader(family: family, index: 0)) { _ in }
    }
}

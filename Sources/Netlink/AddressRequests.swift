import BerthCore

/// Address requests: RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR with an ifaddrmsg.
extension NetlinkRequest {
    private static func address(
        _ operation: String, type: UInt16, flags: UInt16, header: AddressHeader,
        _ build: (inout AttributeWriter) -> Void = { _ in }
    ) -> NetlinkRequest {
        var attributes = AttributeWriter()
        build(&attributes)
        return NetlinkRequest(
            operation: operation,
            message: NetlinkMessage(type: type, flags: flags, header: header.encoded, attributes: attributes))
    }

    /// Adds an IPv4 address. IFA_LOCAL is the address; IFA_ADDRESS repeats it (it is
    /// the peer on point-to-point links); the broadcast is set as Docker sets it.
    public static func addAddress(_ network: IPv4Network, index: Int32) -> NetlinkRequest {
        address(
            "add address \(network) to link \(index)", type: RTM.newAddr, flags: create,
            header: AddressHeader(family: .ipv4, prefixLength: UInt8(network.prefixLength), index: UInt32(bitPattern: index))
        ) { attributes in
            attributes.append(IFA.local, bytes: network.address.bytes)
            attributes.append(IFA.address, bytes: network.address.bytes)
            if network.prefixLength < 31 { attributes.append(IFA.broadcast, bytes: network.broadcast.bytes) }
        }
    }

    /// Adds an IPv6 address; `noDAD` (IFA_F_NODAD) makes it usable at once instead of
    /// tentative for the duplicate-address-detection period.
    public static func addAddress(_ network: IPv6Network, index: Int32, noDAD: Bool = false) -> NetlinkRequest {
        address(
            "add address \(network) to link \(index)", type: RTM.newAddr, flags: create,
            header: AddressHeader(family: .ipv6, prefixLength: UInt8(network.prefixLength), index: UInt32(bitPattern: index))
        ) { attributes in
            attributes.append(IFA.address, bytes: network.address.bytes)
            if noDAD { attributes.append(IFA.flags, uint32: IFA.noDAD) }
        }
    }

    public static func deleteAddress(_ network: IPv4Network, index: Int32) -> NetlinkRequest {
        address(
            "delete address \(network) from link \(index)", type: RTM.delAddr, flags: change,
            header: AddressHeader(family: .ipv4, prefixLength: UInt8(network.prefixLength), index: UInt32(bitPattern: index))
        ) { attributes in
            attributes.append(IFA.local, bytes: network.address.bytes)
            attributes.append(IFA.address, bytes: network.address.bytes)
        }
    }

    public static func deleteAddress(_ network: IPv6Network, index: Int32) -> NetlinkRequest {
        address(
            "delete address \(network) from link \(index)", type: RTM.delAddr, flags: change,
            header: AddressHeader(family: .ipv6, prefixLength: UInt8(network.prefixLength), index: UInt32(bitPattern: index))
        ) { $0.append(IFA.address, bytes: network.address.bytes) }
    }

    /// Dumps the addresses of one family, or of both with `.unspecified`.
    public static func dumpAddresses(family: AddressFamily = .unspecified) -> NetlinkRequest {
        address(
            "list addresses", type: RTM.getAddr, flags: dump,
            header: AddressHeader(family: family, prefixLength: 0, index: 0))
    }
}

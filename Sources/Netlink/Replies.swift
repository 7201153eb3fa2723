import BerthCore

/// A link as the kernel reports it (RTM_NEWLINK reply or dump entry).
public struct LinkInfo: Sendable, Equatable {
    public var index: Int32
    public var name: String
    public var mtu: Int
    /// The hardware address, when it is an Ethernet one.
    public var mac: MACAddress?
    /// IFF_* flags.
    public var flags: UInt32
    /// The bridge (or other master) this link is enslaved to.
    public var masterIndex: Int32?
    /// IFLA_INFO_KIND: "bridge", "veth", "vxlan"...; nil for physical devices and lo.
    public var kind: String?
    /// IFLA_INFO_SLAVE_KIND: "bridge" for a bridge port.
    public var slaveKind: String?
    /// IFLA_LINK: the parent, or for a veth the peer's index (in `linkNetnsID`'s
    /// namespace when that is set).
    public var linkIndex: Int32?
    /// IFLA_LINK_NETNSID: the namespace id of the peer/parent, when it is elsewhere.
    public var linkNetnsID: Int32?
    /// IFLA_OPERSTATE (RFC 2863: 6 = up, 2 = down...).
    public var operationalState: UInt8?
    /// IFLA_IFALIAS, when the link has one.
    public var alias: String?

    public var isUp: Bool { flags & IFF.up != 0 }
    /// Up with a carrier (the other end of a veth is up too).
    public var isRunning: Bool { flags & IFF.running != 0 }

    public init(message: ReceivedMessage) throws(NetlinkParseError) {
        guard message.type == RTM.newLink, let header = InterfaceInfoHeader(decoding: message.payload) else {
            throw NetlinkParseError(offset: 16, reason: "not a link message (type \(message.type))")
        }
        let attributes = try message.attributes(after: InterfaceInfoHeader.size)
        index = header.index
        flags = header.flags
        name = attributes[type: IFLA.ifname]?.string ?? ""
        mtu = Int(attributes[type: IFLA.mtu]?.uint32 ?? 0)
        mac = attributes[type: IFLA.address].flatMap { MACAddress(bytes: $0.payload) }
        masterIndex = attributes[type: IFLA.master]?.int32
        linkIndex = attributes[type: IFLA.link]?.int32
        linkNetnsID = attributes[type: IFLA.linkNetnsID]?.int32
        operationalState = attributes[type: IFLA.operstate]?.uint8
        alias = attributes[type: IFLA.ifalias]?.string
        if let info = try attributes[type: IFLA.linkinfo]?.nested() {
            kind = info[type: IFLA.infoKind]?.string
            slaveKind = info[type: IFLA.infoSlaveKind]?.string
        }
    }
}

/// An interface address (RTM_NEWADDR reply or dump entry).
public struct AddressInfo: Sendable, Equatable {
    public var index: Int32
    public var family: AddressFamily
    public var address: IPAddress
    public var prefixLength: Int
    /// IFA_F_* flags (IFA_FLAGS when present, which extends the 8-bit header field).
    public var flags: UInt32
    public var scope: UInt8
    public var label: String?

    public var ipv4: IPv4Network? {
        if case .v4(let a) = address { IPv4Network(address: a, prefixLength: prefixLength) } else { nil }
    }

    public var ipv6: IPv6Network? {
        if case .v6(let a) = address { IPv6Network(address: a, prefixLength: prefixLength) } else { nil }
    }

    /// Whether IPv6 duplicate address detection is still running (IFA_F_TENTATIVE).
    public var isTentative: Bool { flags & 0x40 != 0 }

    public init(message: ReceivedMessage) throws(NetlinkParseError) {
        guard message.type == RTM.newAddr, let header = AddressHeader(decoding: message.payload) else {
            throw NetlinkParseError(offset: 16, reason: "not an address message (type \(message.type))")
        }
        let attributes = try message.attributes(after: AddressHeader.size)
        // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
        // point-to-point links and the only one sent for most IPv6 addresses.
        let raw = attributes[type: IFA.local] ?? attributes[type: IFA.address]
        guard let family = AddressFamily(rawValue: header.family),
              let address = raw.flatMap({ decodeAddress($0.payload, family: family) }) else {
            throw NetlinkParseError(offset: 16, reason: "address message without an IPv4/IPv6 address")
        }
        index = Int32(bitPattern: header.index)
        self.family = family
        self.address = address
        prefixLength = Int(header.prefixLength)
        flags = attributes[type: IFA.flags]?.uint32 ?? UInt32(header.flags)
        scope = header.scope
        label = attributes[type: IFA.label]?.string
    }
}

/// A route (RTM_NEWROUTE dump entry).
public struct RouteInfo: Sendable, Equatable {
    public var family: AddressFamily
    /// nil for a default route (no RTA_DST).
    public var destination: IPAddress?
    public var prefixLength: Int
    public var gateway: IPAddress?
    public var outputIndex: Int32?
    public var preferredSource: IPAddress?
    public var metric: UInt32?
    /// RT_TABLE_*: 254 is main, 255 local.
    public var table: UInt32
    public var routeProtocol: UInt8
    public var scope: UInt8
    /// RTN_*: 1 unicast, 2 local, 3 broadcast...
    public var type: UInt8

    public var isDefault: Bool { prefixLength == 0 }
    public var isMainTable: Bool { table == UInt32(RTA.tableMain) }

    public init(message: ReceivedMessage) throws(NetlinkParseError) {
        guard message.type == RTM.newRoute, let header = RouteHeader(decoding: message.payload) else {
            throw NetlinkParseError(offset: 16, reason: "not a route message (type \(message.type))")
        }
        let attributes = try message.attributes(after: RouteHeader.size)
        let family = AddressFamily(rawValue: header.family) ?? .unspecified
        self.family = family
        destination = attributes[type: RTA.dst].flatMap { decodeAddress($0.payload, family: family) }
        prefixLength = Int(header.destinationLength)
        gateway = attributes[type: RTA.gateway].flatMap { decodeAddress($0.payload, family: family) }
        outputIndex = attributes[type: RTA.oif]?.int32
        preferredSource = attributes[type: RTA.prefsrc].flatMap { decodeAddress($0.payload, family: family) }
        metric = attributes[type: RTA.priority]?.uint32
        // RTA_TABLE carries ids above 255; rtm_table then says RT_TABLE_UNSPEC.
        table = attributes[type: RTA.table]?.uint32 ?? UInt32(header.table)
        routeProtocol = header.routeProtocol
        scope = header.scope
        type = header.type
    }
}

/// A neighbour or forwarding-database entry (RTM_NEWNEIGH dump entry).
public struct NeighbourInfo: Sendable, Equatable {
    public var index: Int32
    public var family: AddressFamily
    /// NDA_DST: the neighbour's IP, or for a VXLAN FDB entry the remote VTEP.
    public var address: IPAddress?
    public var mac: MACAddress?
    /// NUD_* state (0x80 permanent).
    public var state: UInt16
    /// NTF_* flags (0x02 self, 0x04 master).
    public var flags: UInt8
    public var vni: UInt32?

    public var isPermanent: Bool { state & NDA.statePermanent != 0 }

    public init(message: ReceivedMessage) throws(NetlinkParseError) {
        guard message.type == RTM.newNeigh, let header = NeighbourHeader(decoding: message.payload) else {
            throw NetlinkParseError(offset: 16, reason: "not a neighbour message (type \(message.type))")
        }
        let attributes = try message.attributes(after: NeighbourHeader.size)
        index = header.index
        family = AddressFamily(rawValue: header.family) ?? .unspecified
        // For AF_BRIDGE entries NDA_DST's family is known only from its length.
        address = attributes[type: NDA.dst].flatMap { decodeAddress($0.payload, family: .unspecified) }
        mac = attributes[type: NDA.lladdr].flatMap { MACAddress(bytes: $0.payload) }
        state = header.state
        flags = header.flags
        vni = attributes[type: NDA.vni]?.uint32
    }
}

/// An address payload of the given family; `.unspecified` decides by length.
func decodeAddress(_ bytes: ArraySlice<UInt8>, family: AddressFamily) -> IPAddress? {
    switch (family, bytes.count) {
    case (.ipv4, 4), (.unspecified, 4), (.bridge, 4): IPv4Address(bytes: bytes).map(IPAddress.v4)
    case (.ipv6, 16), (.unspecified, 16), (.bridge, 16): IPv6Address(bytes: bytes).map(IPAddress.v6)
    default: nil
    }
}

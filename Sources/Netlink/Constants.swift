// Kernel ABI numbers from <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>,
// <linux/if_addr.h> and <linux/neighbour.h>. Swift's Glibc module does not import the
// linux/ headers, so they are spelled out here (values checked against the headers of
// linux-libc-dev). Only what berth uses is listed.

/// Socket-level constants.
package enum NL {
    static let route: Int32 = 0                 // NETLINK_ROUTE
    static let solNetlink: Int32 = 270          // SOL_NETLINK
    static let capAck: Int32 = 10               // NETLINK_CAP_ACK
    static let extAck: Int32 = 11               // NETLINK_EXT_ACK
    static let addMembership: Int32 = 1         // NETLINK_ADD_MEMBERSHIP
}

/// Netlink protocols (the socket's third argument).
public enum NetlinkFamily {
    public static let route: Int32 = 0          // NETLINK_ROUTE
    public static let netfilter: Int32 = 12     // NETLINK_NETFILTER
}

/// nlmsghdr.nlmsg_type values for control messages.
package enum MessageType {
    package static let noop: UInt16 = 1
    package static let error: UInt16 = 2
    package static let done: UInt16 = 3
    package static let overrun: UInt16 = 4
}

/// rtnetlink message types (RTM_*).
package enum RTM {
    package static let newLink: UInt16 = 16
    package static let delLink: UInt16 = 17
    package static let getLink: UInt16 = 18
    package static let newAddr: UInt16 = 20
    package static let delAddr: UInt16 = 21
    package static let getAddr: UInt16 = 22
    package static let newRoute: UInt16 = 24
    package static let delRoute: UInt16 = 25
    package static let getRoute: UInt16 = 26
    package static let newNeigh: UInt16 = 28
    package static let delNeigh: UInt16 = 29
    package static let getNeigh: UInt16 = 30
    package static let newRule: UInt16 = 32
    package static let delRule: UInt16 = 33
    package static let getRule: UInt16 = 34
}

/// nlmsghdr.nlmsg_flags (NLM_F_*).
package enum Flag {
    package static let request: UInt16 = 0x01
    package static let multi: UInt16 = 0x02
    package static let ack: UInt16 = 0x04
    package static let echo: UInt16 = 0x08
    package static let dumpInterrupted: UInt16 = 0x10
    package static let dump: UInt16 = 0x300
    package static let replace: UInt16 = 0x100
    package static let excl: UInt16 = 0x200
    package static let create: UInt16 = 0x400
    package static let append: UInt16 = 0x800
    // Only meaningful on NLMSG_ERROR replies.
    package static let capped: UInt16 = 0x100
    package static let ackTLVs: UInt16 = 0x200
}

/// struct nlattr type flags.
package enum AttributeFlag {
    package static let nested: UInt16 = 0x8000
    package static let netByteOrder: UInt16 = 0x4000
    package static let typeMask: UInt16 = 0x3fff
}

/// NLMSGERR_ATTR_*: extended-ack attributes after an NLMSG_ERROR / NLMSG_DONE.
package enum ExtAck {
    package static let message: UInt16 = 1
    package static let offset: UInt16 = 2
}

/// IFLA_* link attributes.
package enum IFLA {
    package static let address: UInt16 = 1
    package static let ifname: UInt16 = 3
    package static let mtu: UInt16 = 4
    package static let link: UInt16 = 5
    package static let master: UInt16 = 10
    package static let operstate: UInt16 = 16
    package static let ifalias: UInt16 = 20
    package static let linkinfo: UInt16 = 18
    package static let group: UInt16 = 27
    package static let netNsFD: UInt16 = 28
    package static let extMask: UInt16 = 29
    package static let afSpec: UInt16 = 26
    package static let linkNetnsID: UInt16 = 37

    // Nested in IFLA_AF_SPEC → AF_INET6.
    package static let inet6AddrGenMode: UInt16 = 8

    // Nested in IFLA_LINKINFO.
    package static let infoKind: UInt16 = 1
    package static let infoData: UInt16 = 2
    package static let infoSlaveKind: UInt16 = 4

    // Nested in IFLA_INFO_DATA for kind "veth".
    package static let vethInfoPeer: UInt16 = 1

    // Nested in IFLA_INFO_DATA for kind "vxlan".
    package static let vxlanID: UInt16 = 1
    package static let vxlanLink: UInt16 = 3
    package static let vxlanLocal: UInt16 = 4
    package static let vxlanLearning: UInt16 = 7
    package static let vxlanProxy: UInt16 = 11
    package static let vxlanPort: UInt16 = 15
    package static let vxlanLocal6: UInt16 = 17

    /// RTEXT_FILTER_SKIP_STATS for IFLA_EXT_MASK: link replies without the (large) counters.
    package static let skipStats: UInt32 = 1 << 3
}

/// IN6_ADDR_GEN_MODE_* values for IFLA_INET6_ADDR_GEN_MODE.
public enum IPv6AddressGeneration: UInt8, Sendable {
    case eui64 = 0
    /// No link-local address at all.
    case none = 1
    case stablePrivacy = 2
    case random = 3
}

/// Address family numbers used as attribute types inside IFLA_AF_SPEC.
package enum Family {
    package static let inet6: UInt16 = 10   // AF_INET6
}

/// IFA_* address attributes and flags.
package enum IFA {
    package static let address: UInt16 = 1
    package static let local: UInt16 = 2
    package static let label: UInt16 = 3
    package static let broadcast: UInt16 = 4
    package static let flags: UInt16 = 8
    package static let noDAD: UInt32 = 0x02
}

/// RTA_* route attributes and rtmsg field values.
package enum RTA {
    package static let dst: UInt16 = 1
    package static let oif: UInt16 = 4
    package static let gateway: UInt16 = 5
    package static let priority: UInt16 = 6
    package static let prefsrc: UInt16 = 7
    package static let table: UInt16 = 15

    package static let tableMain: UInt8 = 254
    package static let protocolBoot: UInt8 = 3
    package static let scopeUniverse: UInt8 = 0
    package static let scopeLink: UInt8 = 253
    package static let scopeNowhere: UInt8 = 255
    package static let typeUnicast: UInt8 = 1
    /// RTN_PROHIBIT: the lookup ends with EACCES (ICMP "administratively prohibited").
    package static let typeProhibit: UInt8 = 8
}

/// FRA_* policy routing rule attributes (<linux/fib_rules.h>) and fib_rule_hdr actions.
package enum FRA {
    package static let dst: UInt16 = 1
    package static let iifName: UInt16 = 3
    package static let priority: UInt16 = 6
    package static let fwmark: UInt16 = 10
    package static let table: UInt16 = 15
    package static let fwmask: UInt16 = 16
    package static let ruleProtocol: UInt16 = 21

    package static let actionToTable: UInt8 = 1     // FR_ACT_TO_TBL
}

/// NDA_* neighbour attributes and ndmsg field values.
package enum NDA {
    package static let dst: UInt16 = 1
    package static let lladdr: UInt16 = 2
    package static let vni: UInt16 = 7

    package static let flagSelf: UInt8 = 0x02       // NTF_SELF
    package static let flagMaster: UInt8 = 0x04     // NTF_MASTER
    package static let statePermanent: UInt16 = 0x80 // NUD_PERMANENT
}

/// Interface flags (IFF_*).
package enum IFF {
    package static let up: UInt32 = 0x1
    package static let running: UInt32 = 0x40
    package static let lowerUp: UInt32 = 0x10000
}

/// IFNAMSIZ, including the terminating NUL.
package let interfaceNameCapacity = 16

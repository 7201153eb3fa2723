import BerthCore

/// A destination prefix of either family, host bits cleared.
public struct RoutePrefix: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var length: Int

    public init(_ network: IPv4Network) {
        address = .v4(network.networkAddress)
        length = network.prefixLength
    }

    public init(_ network: IPv6Network) {
        address = .v6(network.networkAddress)
        length = network.prefixLength
    }

    public var family: AddressFamily { address.isIPv4 ? .ipv4 : .ipv6 }
    public var description: String { "\(address)/\(length)" }
}

/// One policy routing rule (`ip rule`) that sends matching packets to a table: the
/// fields berth sets and reads back. Two rules are the same rule when all fields match,
/// which is also how the kernel finds the rule a deletion names.
public struct PolicyRule: Sendable, Hashable, CustomStringConvertible {
    public var family: AddressFamily
    public var priority: UInt32
    /// FRA_IIFNAME: only packets that arrived on this interface (by name, so the rule
    /// outlives the device).
    public var inputInterface: String?
    public var destination: RoutePrefix?
    /// Matches when (packet mark & markMask) == mark.
    public var mark: UInt32?
    public var markMask: UInt32?
    public var table: UInt32
    /// FRA_PROTOCOL: who made the rule; berth marks its own with it.
    public var ruleProtocol: UInt8
    /// FR_ACT_*; berth only makes table lookups (FR_ACT_TO_TBL).
    public var action: UInt8 = FRA.actionToTable

    public init(family: AddressFamily, priority: UInt32, inputInterface: String? = nil, destination: RoutePrefix? = nil,
                mark: UInt32? = nil, markMask: UInt32? = nil, table: UInt32, ruleProtocol: UInt8) {
        self.family = family
        self.priority = priority
        self.inputInterface = inputInterface
        self.destination = destination
        self.mark = mark
        self.markMask = markMask
        self.table = table
        self.ruleProtocol = ruleProtocol
    }

    /// Reads a rule out of an RTM_NEWRULE dump entry.
    public init(message: ReceivedMessage) throws(NetlinkParseError) {
        guard message.type == RTM.newRule, message.payload.count >= RouteHeader.size else {
            throw NetlinkParseError(offset: 16, reason: "not a rule message (type \(message.type))")
        }
        // struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action, u32 flags.
        let base = message.payload.startIndex
        let family = AddressFamily(rawValue: message.payload[base]) ?? .unspecified
        self.family = family
        let destinationLength = Int(message.payload[base + 1])
        action = message.payload[base + 7]
        let attributes = try message.attributes(after: RouteHeader.size)
        priority = attributes[type: FRA.priority]?.uint32 ?? 0
        inputInterface = attributes[type: FRA.iifName]?.string
        destination = attributes[type: FRA.dst].flatMap { decodeAddress($0.payload, family: family) }
            .map { RoutePrefix(address: $0, length: destinationLength) }
        let markMask = attributes[type: FRA.fwmask]?.uint32
        self.markMask = markMask
        // The kernel leaves FRA_FWMARK out when the mark is 0 but a mask is set.
        mark = attributes[type: FRA.fwmark]?.uint32 ?? (markMask == nil ? nil : 0)
        let headerTable = UInt32(message.payload[base + 4])
        table = attributes[type: FRA.table]?.uint32 ?? headerTable
        ruleProtocol = attributes[type: FRA.ruleProtocol]?.uint8 ?? 0
    }

    public var description: String {
        var text = "priority \(priority)"
        if let inputInterface { text += " iif \(inputInterface)" }
        if let destination { text += " to \(destination)" }
        if let mark { text += " fwmark 0x\(String(mark, radix: 16))/0x\(String(markMask ?? UInt32.max, radix: 16))" }
        return text + " lookup \(table)"
    }
}

extension RoutePrefix {
    fileprivate init(address: IPAddress, length: Int) {
        self.address = address
        self.length = length
    }
}

/// Policy routing rules (RTM_NEWRULE / RTM_DELRULE / RTM_GETRULE) and routes in tables
/// other than main that refuse their destination (`ip route add prohibit ... table N`).
extension NetlinkRequest {
    private static func rule(_ verb: String, type: UInt16, flags: UInt16, _ rule: PolicyRule) -> NetlinkRequest {
        var header = RouteHeader(family: rule.family)
        header.destinationLength = UInt8(clamping: rule.destination?.length ?? 0)
        // Table ids above 255 only fit FRA_TABLE; the header then says RT_TABLE_UNSPEC.
        header.table = rule.table <= 255 ? UInt8(rule.table) : 0
        header.type = rule.action  // fib_rule_hdr.action sits where rtmsg has its type
        var attributes = AttributeWriter()
        if let destination = rule.destination { attributes.append(FRA.dst, bytes: destination.address.bytes) }
        if let inputInterface = rule.inputInterface { attributes.append(FRA.iifName, string: inputInterface) }
        attributes.append(FRA.priority, uint32: rule.priority)
        if let mark = rule.mark { attributes.append(FRA.fwmark, uint32: mark) }
        if let markMask = rule.markMask { attributes.append(FRA.fwmask, uint32: markMask) }
        attributes.append(FRA.table, uint32: rule.table)
        attributes.append(FRA.ruleProtocol, uint8: rule.ruleProtocol)
        return NetlinkRequest(
            operation: "\(verb) rule \(rule)",
            message: NetlinkMessage(type: type, flags: flags, header: header.encoded, attributes: attributes))
    }

    /// Adds a rule; "exists" (EEXIST) when the very same rule is already there.
    public static func addRule(_ rule: PolicyRule) -> NetlinkRequest {
        Self.rule("add", type: RTM.newRule, flags: create, rule)
    }

    /// Deletes the rule matching every field of `rule`.
    public static func deleteRule(_ rule: PolicyRule) -> NetlinkRequest {
        Self.rule("delete", type: RTM.delRule, flags: change, rule)
    }

    public static func dumpRules(family: AddressFamily) -> NetlinkRequest {
        NetlinkRequest(
            operation: "list rules",
            message: NetlinkMessage(type: RTM.getRule, flags: dump, header: RouteHeader(family: family).encoded))
    }

    private static func prohibitRoute(_ verb: String, type: UInt16, flags: UInt16, _ destination: RoutePrefix,
                                      table: UInt32, routeProtocol: UInt8) -> NetlinkRequest {
        var header = RouteHeader(family: destination.family)
        header.destinationLength = UInt8(clamping: destination.length)
        header.table = table <= 255 ? UInt8(table) : 0
        header.routeProtocol = routeProtocol
        if type == RTM.newRoute {
            header.scope = RTA.scopeUniverse
            header.type = RTA.typeProhibit
        } else {
            // As `ip route del`: scope "nowhere" matches any; type and protocol must match.
            header.scope = RTA.scopeNowhere
            header.type = RTA.typeProhibit
        }
        var attributes = AttributeWriter()
        attributes.append(RTA.dst, bytes: destination.address.bytes)
        attributes.append(RTA.table, uint32: table)
        return NetlinkRequest(
            operation: "\(verb) route prohibit \(destination) table \(table)",
            message: NetlinkMessage(type: type, flags: flags, header: header.encoded, attributes: attributes))
    }

    /// A `prohibit` route for `destination` in `table`: lookups there end with EACCES.
    public static func addProhibitRoute(_ destination: RoutePrefix, table: UInt32, routeProtocol: UInt8) -> NetlinkRequest {
        prohibitRoute("add", type: RTM.newRoute, flags: create, destination, table: table, routeProtocol: routeProtocol)
    }

    public static func deleteProhibitRoute(_ destination: RoutePrefix, table: UInt32, routeProtocol: UInt8) -> NetlinkRequest {
        prohibitRoute("delete", type: RTM.delRoute, flags: change, destination, table: table, routeProtocol: routeProtocol)
    }
}

extension RouteNetlink {
    /// The policy routing rules of one family.
    public func rules(family: AddressFamily) throws -> [PolicyRule] {
        let request = NetlinkRequest.dumpRules(family: family)
        return try parse(dump(request), request.operation, PolicyRule.init(message:))
    }
}

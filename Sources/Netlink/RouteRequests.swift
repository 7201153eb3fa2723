import BerthCore

/// Route requests in the main table: RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE.
extension NetlinkRequest {
    private static func route(
        _ operation: String, type: UInt16, flags: UInt16, family: AddressFamily,
        destination: (bytes: [UInt8], prefixLength: Int)?, gateway: [UInt8]?, outputIndex: Int32?, metric: UInt32?
    ) -> NetlinkRequest {
        var header = RouteHeader(family: family)
        header.destinationLength = UInt8(destination?.prefixLength ?? 0)
        header.table = RTA.tableMain
        if type == RTM.newRoute {
            // As `ip route add`: a route with no gateway is directly connected (link
            // scope), one through a gateway reaches further (universe scope).
            header.routeProtocol = RTA.protocolBoot
            header.scope = gateway == nil ? RTA.scopeLink : RTA.scopeUniverse
            header.type = RTA.typeUnicast
        } else {
            // As `ip route del`: scope "nowhere", protocol and type 0 match any route.
            header.scope = RTA.scopeNowhere
        }
        var attributes = AttributeWriter()
        if let destination { attributes.append(RTA.dst, bytes: destination.bytes) }
        if let gateway { attributes.append(RTA.gateway, bytes: gateway) }
        if let outputIndex { attributes.append(RTA.oif, int32: outputIndex) }
        if let metric { attributes.append(RTA.priority, uint32: metric) }
        return NetlinkRequest(
            operation: operation,
            message: NetlinkMessage(type: type, flags: flags, header: header.encoded, attributes: attributes))
    }

    private static func describeRoute(
        _ verb: String, _ destination: String?, _ gateway: String?, _ outputIndex: Int32?
    ) -> String {
        var text = "\(verb) route \(destination ?? "default")"
        if let gateway { text += " via \(gateway)" }
        if let outputIndex { text += " dev \(outputIndex)" }
        return text
    }

    /// Adds an IPv4 route to the main table; a nil destination is the default route.
    /// The destination is sent with host bits cleared, as the kernel requires.
    public static func addRoute(
        destination: IPv4Network?, gateway: IPv4Address? = nil, outputIndex: Int32? = nil, metric: UInt32? = nil
    ) -> NetlinkRequest {
        route(
            describeRoute("add", destination?.canonical.description, gateway?.description, outputIndex),
            type: RTM.newRoute, flags: create, family: .ipv4,
            destination: destination.map { ($0.networkAddress.bytes, $0.prefixLength) },
            gateway: gateway?.bytes, outputIndex: outputIndex, metric: metric)
    }

    public static func addRoute(
        destination: IPv6Network?, gateway: IPv6Address? = nil, outputIndex: Int32? = nil, metric: UInt32? = nil
    ) -> NetlinkRequest {
        route(
            describeRoute("add", destination?.canonical.description, gateway?.description, outputIndex),
            type: RTM.newRoute, flags: create, family: .ipv6,
            destination: destination.map { ($0.networkAddress.bytes, $0.prefixLength) },
            gateway: gateway?.bytes, outputIndex: outputIndex, metric: metric)
    }

    /// Deletes the IPv4 main-table route matching the given fields (nil = any).
    public static func deleteRoute(
        destination: IPv4Network?, gateway: IPv4Address? = nil, outputIndex: Int32? = nil, metric: UInt32? = nil
    ) -> NetlinkRequest {
        route(
            describeRoute("delete", destination?.canonical.description, gateway?.description, outputIndex),
            type: RTM.delRoute, flags: change, family: .ipv4,
            destination: destination.map { ($0.networkAddress.bytes, $0.prefixLength) },
            gateway: gateway?.bytes, outputIndex: outputIndex, metric: metric)
    }

    public static func deleteRoute(
        destination: IPv6Network?, gateway: IPv6Address? = nil, outputIndex: Int32? = nil, metric: UInt32? = nil
    ) -> NetlinkRequest {
        route(
            describeRoute("delete", destination?.canonical.description, gateway?.description, outputIndex),
            type: RTM.delRoute, flags: change, family: .ipv6,
            destination: destination.map { ($0.networkAddress.bytes, $0.prefixLength) },
            gateway: gateway?.bytes, outputIndex: outputIndex, metric: metric)
    }

    /// Dumps routes of one family (or all); callers filter by table.
    public static func dumpRoutes(family: AddressFamily = .unspecified) -> NetlinkRequest {
        NetlinkRequest(
            operation: "list routes",
            message: NetlinkMessage(type: RTM.getRoute, flags: dump, header: RouteHeader(family: family).encoded))
    }
}

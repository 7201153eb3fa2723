import BerthCore
import Glibc
import Netlink

/// One network as the isolation layer sees it: the host-side interface its containers'
/// routed traffic arrives on (the bridge, or an overlay's `ov-` end) and its subnets.
public struct IsolatedNetwork: Sendable, Hashable {
    public var interface: String
    public var subnets: [RoutePrefix]

    public init(interface: String, subnets: [RoutePrefix]) {
        self.interface = interface
        self.subnets = subnets
    }
}

/// A second wall between networks, beside berth's nftables table, that `nft flush
/// ruleset` cannot take down: policy routing. Routing happens after the prerouting hooks
/// and before forward, so a packet from one network to another never reaches the
/// forward chain at all when the route lookup refuses it.
///
/// - Table `table` holds a `prohibit` route for every berth network's subnet (both
///   families): a lookup there for another network ends with EACCES (the sender gets
///   "administratively prohibited" at once).
/// - Per network, `iif <interface> fwmark 0/<exemptMark> lookup <table>` (both families,
///   priority `isolationPriority`): routed traffic from the network sees that table first.
///   Lookups that find nothing there (the outside world) fall through to main.
/// - Before it, `iif <interface> to <own subnet> lookup main` (`ownSubnetPriority`), so
///   a network still reaches itself through the host (hairpin within one network).
/// - Published ports reached from another network are allowed on purpose: berth's
///   nftables table sets `exemptMark` on DNATed connections, which skips the lookup rule.
///   With the table flushed there is no mark and such connections fail closed.
///
/// Rules are per network, never per container, so a container start costs nothing more.
/// berth's rules carry `ruleProtocol` and sit at berth's two priorities; only such rules,
/// and only `prohibit` routes with `ruleProtocol` in `table`, are ever deleted.
public enum IsolationRules {
    public static let table: UInt32 = 0x6265_7274  // "bert"
    public static let ownSubnetPriority: UInt32 = 30_100
    public static let isolationPriority: UInt32 = 30_101
    /// RTPROT number marking berth's rules and routes (unassigned in iproute2's rt_protos).
    public static let ruleProtocol: UInt8 = 98

    /// The rules for one network, own-subnet rules first.
    static func rules(_ network: IsolatedNetwork, exemptMark: UInt32) -> [PolicyRule] {
        let own = network.subnets.map { subnet in
            PolicyRule(family: subnet.family, priority: ownSubnetPriority, inputInterface: network.interface,
                       destination: subnet, table: UInt32(mainTable), ruleProtocol: ruleProtocol)
        }
        // Both families even on an IPv4-only network: its containers could still send IPv6.
        let lookups = [AddressFamily.ipv4, .ipv6].map { family in
            PolicyRule(family: family, priority: isolationPriority, inputInterface: network.interface,
                       mark: 0, markMask: exemptMark, table: table, ruleProtocol: ruleProtocol)
        }
        return own + lookups
    }

    static let mainTable: UInt8 = 254

    static func isOwned(_ rule: PolicyRule) -> Bool {
        rule.ruleProtocol == ruleProtocol
            && (rule.priority == ownSubnetPriority || rule.priority == isolationPriority)
    }

    /// Whether a failure means "already so": the object exists (add) or is gone (delete),
    /// or the host has no IPv6 at all.
    static func isSettled(_ error: NetlinkError) -> Bool {
        error.errno == EEXIST || error.errno == ENOENT || error.errno == ESRCH || error.errno == EAFNOSUPPORT
    }
}

extension NetworkWorker {
    /// Walls a network off from the others (network create, overlay materialized).
    /// Idempotent. Its subnets become unreachable from every other berth network at once.
    public func isolate(_ network: IsolatedNetwork, exemptMark: UInt32) async throws {
        try await thread.run { scope in
            let netlink = scope.context.netlink
            let rules = IsolationRules.rules(network, exemptMark: exemptMark)
            let own = rules.filter { $0.priority == IsolationRules.ownSubnetPriority }
            let lookups = rules.filter { $0.priority == IsolationRules.isolationPriority }
            // Own subnet kept first, then the others' way in closed, then the way out.
            try Self.settle(netlink, own.map(NetlinkRequest.addRule)
                + network.subnets.map(Self.addRoute) + lookups.map(NetlinkRequest.addRule))
        }
    }

    /// Removes a network's rules and its subnet's routes (network rm). Best effort on
    /// what is already gone.
    public func releaseIsolation(_ network: IsolatedNetwork, exemptMark: UInt32) async throws {
        try await thread.run { scope in
            let rules = IsolationRules.rules(network, exemptMark: exemptMark)
            try Self.settle(scope.context.netlink, rules.reversed().map(NetlinkRequest.deleteRule)
                + network.subnets.map(Self.deleteRoute))
        }
    }

    /// Makes berth's rules and routes exactly those of `networks` (daemon start): what a
    /// `kill -9` left of networks that are gone is deleted, what is missing is added,
    /// what is right stays in place (no moment without it). Returns how many were removed.
    @discardableResult
    public func synchronizeIsolation(_ networks: [IsolatedNetwork], exemptMark: UInt32) async throws -> Int {
        try await thread.run { scope in
            let netlink = scope.context.netlink
            let existing = try Self.ownedRules(netlink)
            let existingRoutes = try Self.ownedRoutes(netlink)
            let wanted = networks.flatMap { IsolationRules.rules($0, exemptMark: exemptMark) }
            let wantedRoutes = Set(networks.flatMap(\.subnets))
            let wantedSet = Set(wanted)
            let staleRules = existing.filter { !wantedSet.contains($0) }
            let staleRoutes = existingRoutes.subtracting(wantedRoutes)
            let present = Set(existing)
            let missing = wanted.filter { !present.contains($0) }
            try Self.settle(netlink, staleRules.map(NetlinkRequest.deleteRule) + staleRoutes.map(Self.deleteRoute)
                + missing.filter { $0.priority == IsolationRules.ownSubnetPriority }.map(NetlinkRequest.addRule)
                + wantedRoutes.subtracting(existingRoutes).map(Self.addRoute)
                + missing.filter { $0.priority == IsolationRules.isolationPriority }.map(NetlinkRequest.addRule))
            return staleRules.count + staleRoutes.count
        }
    }

    /// Deletes every rule and route of berth's isolation layer (`berthd --cleanup`).
    public func removeIsolation() async throws {
        try await thread.run { scope in
            let netlink = scope.context.netlink
            try Self.settle(netlink, try Self.ownedRules(netlink).map(NetlinkRequest.deleteRule)
                + Self.ownedRoutes(netlink).map(Self.deleteRoute))
        }
    }

    private static func addRoute(_ subnet: RoutePrefix) -> NetlinkRequest {
        .addProhibitRoute(subnet, table: IsolationRules.table, routeProtocol: IsolationRules.ruleProtocol)
    }

    private static func deleteRoute(_ subnet: RoutePrefix) -> NetlinkRequest {
        .deleteProhibitRoute(subnet, table: IsolationRules.table, routeProtocol: IsolationRules.ruleProtocol)
    }

    private static func ownedRules(_ netlink: RouteNetlink) throws -> [PolicyRule] {
        var found: [PolicyRule] = []
        for family in [AddressFamily.ipv4, .ipv6] {
            do {
                found += try netlink.rules(family: family).filter(IsolationRules.isOwned)
            } catch let error as NetlinkError where family == .ipv6 && error.errno == EAFNOSUPPORT {
                continue  // no IPv6 on this host
            }
        }
        return found
    }

    private static func ownedRoutes(_ netlink: RouteNetlink) throws -> Set<RoutePrefix> {
        let routes = try netlink.routes(table: IsolationRules.table).filter {
            $0.routeProtocol == IsolationRules.ruleProtocol && $0.type == 8  // RTN_PROHIBIT
        }
        return Set(routes.compactMap { route in
            switch route.destination {
            case .v4(let address)?: IPv4Network(address: address, prefixLength: route.prefixLength).map(RoutePrefix.init)
            case .v6(let address)?: IPv6Network(address: address, prefixLength: route.prefixLength).map(RoutePrefix.init)
            case nil: nil
            }
        })
    }

    /// Sends the requests in one batch; a failure that only means "already so" is
    /// retried one by one so the real failures, if any, surface.
    private static func settle(_ netlink: RouteNetlink, _ requests: [NetlinkRequest]) throws {
        do {
            try netlink.perform(requests)
        } catch let error as NetlinkError where IsolationRules.isSettled(error) {
            for request in requests {
                do { try netlink.perform(request) } catch let error as NetlinkError where IsolationRules.isSettled(error) {
                    continue
                }
            }
        }
    }
}

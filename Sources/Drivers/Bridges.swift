import BerthCore
import IPAM
import Netlink

/// How a bridge about to be made sure of came to be wanted, which decides what an existing
/// link of that name may be.
public enum BridgeClaim: Sendable {
    /// A network being created now (or a default bridge name not in the store yet): an
    /// existing link is used only if it carries berth's mark.
    case new
    /// A network in berth's store: also an unmarked bridge, as berth made them before it
    /// marked them; it gets the mark.
    case recorded
}

extension NetworkWorker {
    // MARK: bridges

    /// Makes the bridge exist with the gateway address, up, and returns whether this call
    /// created it (so a failed request removes only what it made). An existing link is
    /// used only if it is berth's (see `BridgeClaim`); anything else is refused untouched.
    @discardableResult
    public func ensureBridge(_ spec: BridgeSpec, claim: BridgeClaim) async throws -> Bool {
        try await thread.run { scope in
            let host = scope.context
            let index: Int32
            var created = false
            if let link = try host.netlink.link(named: spec.name) {
                try host.claimExisting(link, claim: claim)
                index = link.index
                if link.mac != spec.mac { try host.netlink.setMAC(index: index, mac: spec.mac) }
            } else {
                index = try host.createMarkedBridge(name: spec.name, mtu: spec.mtu, mac: spec.mac)
                created = true
            }
            host.bridgeIndexes[spec.name] = index
            do {
                try host.setAddresses(index: index, gateway: spec.gateway, gateway6: spec.gateway6)
            } catch {
                if created {
                    host.bridgeIndexes[spec.name] = nil
                    driverLog.cleanUp("delete bridge \(spec.name)", during: "undoing a failed bridge setup") {
                        try host.netlink.removeLink(index: index)
                    }
                }
                throw error
            }
            return created
        }
    }

    public func removeBridge(name: String) async throws {
        try await thread.run { scope in
            let host = scope.context
            // Spares plugged into it go first; none are made for it again.
            if host.hotShape?.bridgeName == name { host.hotShape = nil }
            for spare in host.pluggedSpares where spare.port?.shape.bridgeName == name { Self.discard(spare, host: host) }
            host.pluggedSpares.removeAll { $0.port?.shape.bridgeName == name }
            host.bridgeIndexes[name] = nil
            guard let link = try host.netlink.link(named: name) else { return }
            // Only a bridge with berth's mark: a link someone else made under that name stays.
            guard link.kind == "bridge", link.alias == Self.bridgeAlias else {
                throw BerthError.conflict("\(name) is not berth's bridge (no \"\(Self.bridgeAlias)\" alias): left in place")
            }
            try host.netlink.deleteLink(index: link.index)
        }
    }

    /// IPv4 prefixes in use on the host (routes and interface addresses, default routes
    /// excluded), so a new network's subnet can avoid them.
    public func hostNetworks(excludingBridges bridges: [String]) async throws -> [IPv4Network] {
        try await thread.run { scope in
            let netlink = scope.context.netlink
            let links = try netlink.links()
            let skipped = Set(links.filter { bridges.contains($0.name) }.map(\.index))
            var result: [IPv4Network] = []
            for route in try netlink.routes(family: .ipv4) where route.prefixLength > 0 {
                if let output = route.outputIndex, skipped.contains(output) { continue }
                if case .v4(let address)? = route.destination,
                   let network = IPv4Network(address: address, prefixLength: route.prefixLength) {
                    result.append(network)
                }
            }
            for address in try netlink.addresses(family: .ipv4) where !skipped.contains(address.index) {
                if case .v4(let value) = address.address,
                   let network = IPv4Network(address: value, prefixLength: address.prefixLength) {
                    result.append(network)
                }
            }
            return result
        }
    }

    // MARK: reconciliation

    /// Names of the veth links enslaved to any of berth's `bridges` that look like berth's
    /// container ports ("veth" and 7 hex digits, or a spare's alias): a link someone else
    /// put on a berth bridge is not berth's to remove.
    public func bridgePorts(bridges: [String]) async throws -> [String] {
        try await thread.run { scope in
            let links = try scope.context.netlink.links()
            let indexes = Set(links.filter { bridges.contains($0.name) && $0.alias == Self.bridgeAlias }.map(\.index))
            return links.filter { link in
                guard link.masterIndex.map(indexes.contains) ?? false, link.kind == "veth" else { return false }
                return link.alias == Self.spareAlias || Self.isContainerPortName(link.name)
            }.map(\.name)
        }
    }

    /// "veth" and 7 lower-case hex digits: the host end names berth gives (endpoint IDs and spares).
    static func isContainerPortName(_ name: String) -> Bool {
        name.utf8.count == 11 && name.hasPrefix("veth")
            && name.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// Deletes every link of `names` (those already gone are no failure); the ones that
    /// stay are logged together.
    public func deleteLinks(_ names: [String]) async {
        do {
            let failures = try await thread.run { scope in
                let netlink = scope.context.netlink
                var failures = StepFailures("deleting links")
                for name in names { failures.step("delete \(name)") { try netlink.removeLink(named: name) } }
                return failures
            }
            driverLog.report(failures)
        } catch {
            driverLog.warning("deleting links \(names.joined(separator: ", ")): \(error)")
        }
    }

    // MARK: ownership

    /// The alias (IFLA_IFALIAS, shown by `ip link`) berth puts on every bridge it makes:
    /// its mark of ownership. Only links carrying it are changed or deleted.
    public static let bridgeAlias = "berth bridge"
    /// The mark of the host's end of an overlay's gateway pair.
    public static let overlayGatewayAlias = "berth overlay gateway"

    /// Every prefix the host holds outside berth's own bridges: interface addresses and
    /// main-table routes (default routes excepted), of both families, each with the
    /// interface it is on, so a subnet or `--bip` that would collide can be refused.
    public func prefixesInUse(excludingBridges bridges: [String]) async throws -> [PrefixInUse] {
        try await thread.run { scope in
            let netlink = scope.context.netlink
            let links = try netlink.links()
            let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
            // Only berth's own bridges are skipped (marked, or unmarked from before the mark):
            // a foreign link of the same name is not.
            let skipped = Set(links.filter { link in
                bridges.contains(link.name) && link.kind == "bridge" && (link.alias == Self.bridgeAlias || link.alias?.isEmpty ?? true)
            }.map(\.index)
                              + links.filter { $0.alias == Self.overlayGatewayAlias }.map(\.index))
            func owner(_ index: Int32?) -> String {
                index.flatMap { names[$0] }.map { "host interface \($0)" } ?? "the host"
            }
            var result: [PrefixInUse] = []
            for route in try netlink.routes() where route.prefixLength > 0 {
                if let output = route.outputIndex, skipped.contains(output) { continue }
                if let prefix = route.destination.flatMap({ Self.prefix($0, route.prefixLength) }) {
                    result.append(PrefixInUse(prefix: prefix, kind: "route", owner: owner(route.outputIndex)))
                }
            }
            for address in try netlink.addresses() where !skipped.contains(address.index) {
                if let prefix = Self.prefix(address.address, address.prefixLength) {
                    result.append(PrefixInUse(prefix: prefix, kind: "address", owner: owner(address.index)))
                }
            }
            return result
        }
    }

    static func prefix(_ address: IPAddress, _ length: Int) -> IPPrefix? {
        switch address {
        case .v4(let value): IPv4Network(address: value, prefixLength: length).map(IPPrefix.v4)
        case .v6(let value): IPv6Network(address: value, prefixLength: length).map(IPPrefix.v6)
        }
    }
}

extension HostLinks {
    /// Whether an existing link called like the bridge wanted may be used as it: refuses
    /// (before anything changes) a link that is not berth's, marks a recorded bridge from
    /// before berth marked them.
    func claimExisting(_ link: LinkInfo, claim: BridgeClaim) throws {
        guard link.kind == "bridge" else {
            throw BerthError.conflict("\(link.name) exists and is not a bridge: it is not berth's, so berth neither uses nor removes it")
        }
        if link.alias == NetworkWorker.bridgeAlias { return }
        guard claim == .recorded, link.alias?.isEmpty ?? true else {
            throw BerthError.conflict(
                "bridge \(link.name) exists and is not berth's (no \"\(NetworkWorker.bridgeAlias)\" alias): berth neither uses nor removes it; choose another bridge name")
        }
        try netlink.perform(.setAlias(index: link.index, alias: NetworkWorker.bridgeAlias))
    }

    /// A new bridge with berth's mark; deleted again if it cannot be marked.
    func createMarkedBridge(name: String, mtu: Int, mac: MACAddress) throws -> Int32 {
        let index = try netlink.createBridge(name: name, mtu: mtu, mac: mac)
        do {
            try netlink.perform(.setAlias(index: index, alias: NetworkWorker.bridgeAlias))
        } catch {
            driverLog.cleanUp("delete bridge \(name)", during: "a bridge that could not be marked") {
                try netlink.removeLink(index: index)
            }
            throw error
        }
        return index
    }

    /// Whether berth may delete this link: only what carries one of its marks.
    static func isBerths(_ link: LinkInfo) -> Bool {
        link.alias == NetworkWorker.bridgeAlias || link.alias == NetworkWorker.overlayGatewayAlias
            || link.alias == NetworkWorker.spareAlias
    }
}

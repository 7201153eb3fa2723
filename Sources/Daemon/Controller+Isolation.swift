import BerthCore
import Drivers
import Firewall
import Netlink

/// The policy routing layer that keeps networks apart when berth's nftables table is
/// gone (see `IsolationRules`): rules per network, made with the network and removed
/// with it, re-made from the records at start.
extension Controller {
    /// The interface a network's routed traffic arrives on and its subnets; nil for
    /// networks without a bridge (host, none).
    func isolatedNetwork(_ network: NetworkRecord) -> IsolatedNetwork? {
        guard network.hasBridge, let interface = network.bridgeName else { return nil }
        var subnets: [RoutePrefix] = []
        if let subnet = network.subnet { subnets.append(RoutePrefix(subnet)) }
        if let subnet6 = network.subnet6 { subnets.append(RoutePrefix(subnet6)) }
        return IsolatedNetwork(interface: interface, subnets: subnets)
    }

    func isolate(_ network: NetworkRecord) async throws {
        guard let isolated = isolatedNetwork(network) else { return }
        try await worker.isolate(isolated, exemptMark: Ruleset.publishedMark)
    }

    /// Best effort: a rule left behind is removed at the next start.
    func releaseIsolation(_ network: NetworkRecord) async {
        guard let isolated = isolatedNetwork(network) else { return }
        do { try await worker.releaseIsolation(isolated, exemptMark: Ruleset.publishedMark) } catch {
            logger.warning("removing the network's routing rules failed", metadata: [
                "network": .string(network.name), "error": .string("\(error)")])
        }
    }

    /// Daemon start: berth's rules become exactly those of the networks it has.
    func synchronizeIsolation() async throws {
        let wanted = networks.values.compactMap(isolatedNetwork)
        let removed = try await worker.synchronizeIsolation(wanted, exemptMark: Ruleset.publishedMark)
        if removed > 0 { logger.info("removed stale routing rules", metadata: ["count": .stringConvertible(removed)]) }
    }
}

import BerthCore
import Drivers
import Firewall

/// The policy routing layer that keeps networks apart when berth's nftables table is
/// gone (see `IsolationRules`): each driver makes and removes its networks' rules (see
/// `BridgedNetwork`); at start they are made whole from the records.
extension Controller {
    /// Daemon start: berth's rules become exactly those of the networks it has.
    func synchronizeIsolation() async throws {
        let wanted = networks.values.compactMap { drivers.of($0).isolatedNetwork($0) }
        let removed = try await worker.synchronizeIsolation(wanted, exemptMark: Ruleset.publishedMark)
        if removed > 0 { logger.info("removed stale routing rules", metadata: ["count": .stringConvertible(removed)]) }
    }
}

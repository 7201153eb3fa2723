import Netlink

/// What an nftables notification says, as far as guarding berth's table goes.
public enum RulesetEvent: Sendable, Equatable {
    /// A table, chain, rule or set of the named table was deleted.
    case deleted(table: String)
    /// A table, chain, rule or set of the named table was added or changed.
    case changed(table: String)
    /// A transaction was committed by the process with this pid: the objects announced
    /// since the previous one belong to it.
    case committed(pid: UInt32)
}

/// Reads the kernel's nftables notifications (NFNLGRP_NFTABLES on NETLINK_NETFILTER).
public enum RulesetEvents {
    /// The multicast group that carries nftables changes.
    public static let group: UInt32 = 7  // NFNLGRP_NFTABLES
    static let subsystem: UInt16 = 10    // NFNL_SUBSYS_NFTABLES

    // NFT_MSG_* values that delete something; each carries the table name as attribute 1
    // (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE).
    static let deletions: Set<UInt16> = [2, 5, 8, 11]
    /// NFT_MSG_NEWTABLE, NEWCHAIN (a policy change too), NEWRULE, NEWSET: what can change
    /// whether another table drops berth's traffic. Set elements are left out: other
    /// programs change theirs all the time, and they never change a chain's shape.
    static let additions: Set<UInt16> = [0, 3, 6, 9]
    static let newGeneration: UInt16 = 15  // NFT_MSG_NEWGEN
    static let tableAttribute: UInt16 = 1
    static let deleteRule: UInt16 = 8  // NFT_MSG_DELRULE
    static let chainAttribute: UInt16 = 2  // NFTA_RULE_CHAIN
    static let processIDAttribute: UInt16 = 2  // NFTA_GEN_PROC_PID, big-endian
    /// struct nfgenmsg: family, version, resource id.
    static let headerSize = 4

    /// The events in one datagram; messages that are not about deletions or commits,
    /// or that cannot be parsed, are skipped.
    public static func parse(_ datagram: [UInt8]) -> [RulesetEvent] {
        // Unparsable datagrams and messages (here and below) are skipped by design: the
        // guard still sees the next event.
        guard let messages = try? ReceivedMessage.split(datagram) else { return [] }
        var events: [RulesetEvent] = []
        for message in messages where message.type >> 8 == subsystem {
            let kind = message.type & 0xff
            guard let attributes = try? message.attributes(after: headerSize) else { continue }
            if deletions.contains(kind), let table = attributes[type: tableAttribute]?.string {
                // A rule deleted from the user's chain is the user's business: not a
                // reason to rewrite berth's table (which would keep that chain anyway).
                let chain = kind == deleteRule ? attributes[type: chainAttribute]?.string : nil
                events.append(chain == Ruleset.userChain ? .changed(table: table) : .deleted(table: table))
            } else if additions.contains(kind), let table = attributes[type: tableAttribute]?.string {
                events.append(.changed(table: table))
            } else if kind == newGeneration, let pid = attributes[type: processIDAttribute], pid.payload.count == 4 {
                let bytes = Array(pid.payload)
                let value = bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                events.append(.committed(pid: value))
            }
        }
        return events
    }

    /// Folds events into "someone else removed part of our table": deletions are
    /// collected until their transaction's commit names who made it.
    public struct Tamper: Sendable {
        public let table: String
        /// The task ids whose commits are berth's own. The kernel names the thread that
        /// sent a transaction (task_pid_nr), not its process, so this holds the thread
        /// that sends berth's transactions as well as the process id.
        public let ownPIDs: Set<UInt32>
        private var pendingDeletion = false
        private var pendingForeign = false
        /// Whether a transaction of another process changed a table other than berth's
        /// since `takeForeignChange` was last called: berth's rule in other programs'
        /// chains may need to be put back (`ForeignChains`).
        public private(set) var foreignChange = false

        public init(table: String, ownPID: UInt32) {
            self.init(table: table, ownPIDs: [ownPID])
        }

        public init(table: String, ownPIDs: Set<UInt32>) {
            self.table = table
            self.ownPIDs = ownPIDs
        }

        /// True when a transaction by another process deleted something of the table.
        public mutating func observe(_ event: RulesetEvent) -> Bool {
            switch event {
            case .deleted(let name):
                if name == table { pendingDeletion = true } else { pendingForeign = true }
                return false
            case .changed(let name):
                if name != table { pendingForeign = true }
                return false
            case .committed(let pid):
                defer {
                    pendingDeletion = false
                    pendingForeign = false
                }
                let foreign = !ownPIDs.contains(pid)
                if foreign && pendingForeign { foreignChange = true }
                return pendingDeletion && foreign
            }
        }

        /// Reads and clears `foreignChange`.
        public mutating func takeForeignChange() -> Bool {
            defer { foreignChange = false }
            return foreignChange
        }
    }
}

import BerthCore
import ContainerRuntime
import Foundation
import Logging
import Store

/// What berthd does when its database does not account for what it finds (`--recover`,
/// `--remove-unrecorded`); without either it refuses to start.
public enum StateRecovery: Sendable {
    case refuse
    /// Put back the records kept beside the database; leave alone what is still unknown.
    case recover
    /// Trust the database as it is: copies without records go, unrecorded runc containers are removed.
    case removeUnrecorded
}

extension BerthDaemon {
    /// Opens the database, private to root. One that SQLite cannot read is set aside
    /// (never deleted) when the user asked for recovery, and refused otherwise.
    func openDatabase() throws -> SQLiteStore {
        do {
            return try SQLiteStore(path: configuration.storePath)
        } catch {
            guard configuration.stateRecovery != .refuse else {
                throw BerthError(.unavailable, "cannot read the state database \(configuration.storePath) (\(error.message)); "
                    + "running containers were left alone: start berthd with --recover to set the file aside and rebuild "
                    + "the state from \(configuration.recordsDir) and runc, or with --remove-unrecorded to set it aside and "
                    + "remove every container it recorded")
            }
            let aside = configuration.storePath + ".unreadable-" + String(Int(Date().timeIntervalSince1970))
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: configuration.storePath + suffix) {
                guard rename(configuration.storePath + suffix, aside + suffix) == 0 else {
                    throw BerthError(.internal, "cannot set the unreadable \(configuration.storePath + suffix) aside: "
                        + String(cString: strerror(errno)))
                }
            }
            logger.warning("the unreadable state database was set aside", metadata: ["file": .string(aside)])
            return try SQLiteStore(path: configuration.storePath)
        }
    }

    /// Compares the database with the copies beside it and with runc's containers, before
    /// anything is changed. Lost state stops the start with one line, unless the user
    /// chose what to do with it.
    func checkState(_ store: MirroredStore) throws {
        let runc = Runc(binary: configuration.runcPath, root: configuration.runcRoot)
        let runcContainers = try runc.listStates().map(\.id)
        let stored = Set(try store.database.list(prefix: "").map(\.key))
        let audit = StateAudit.audit(storedKeys: stored, copiedKeys: store.copiedKeys(),
                                     containerPrefix: StoreKeys.containerPrefix, runcContainers: runcContainers)
        if audit.isClean {
            try store.writeMissingCopies()
            return
        }
        switch configuration.stateRecovery {
        case .refuse:
            throw BerthError(.conflict, refusal(audit, store))
        case .recover:
            let restored = try store.restoreFromCopies()
            logger.warning("state recovered from the records kept beside the database", metadata: [
                "restored": .string(restored.joined(separator: ","))])
            let known = Set(try store.database.list(prefix: StoreKeys.containerPrefix).map(\.key))
            let unknown = runcContainers.filter { !known.contains(StoreKeys.container($0)) }
            if !unknown.isEmpty {
                logger.warning("runc containers without any record are left untouched (not managed, not removed)",
                               metadata: ["ids": .string(unknown.joined(separator: ","))])
            }
        case .removeUnrecorded:
            let discarded = try store.discardCopiesWithoutRecords()
            logger.warning("records missing from the database are dropped; unrecorded containers will be removed",
                           metadata: ["records": .string(discarded.joined(separator: ",")),
                                      "containers": .string(audit.unrecordedContainers.joined(separator: ","))])
        }
        try store.writeMissingCopies()
    }

    /// One line: what is unaccounted for, that nothing was touched, and the two ways out.
    private func refusal(_ audit: StateAudit, _ store: MirroredStore) -> String {
        var lostContainers = Set(audit.unrecordedContainers)
        var lostNetworks: [String] = []
        for key in audit.lostKeys {
            if key.hasPrefix(StoreKeys.containerPrefix) { lostContainers.insert(String(key.dropFirst(StoreKeys.containerPrefix.count))) }
            if key.hasPrefix(StoreKeys.networkPrefix), let bytes = store.copy(of: key),
               // A copy that does not decode still counts as lost; only its name is unknown.
               let network = try? JSONDecoder().decode(NetworkRecord.self, from: Data(bytes)), !network.predefined {
                lostNetworks.append(network.name)
            }
        }
        let names = lostContainers.sorted().map { id in
            store.copy(of: StoreKeys.container(id))
                // Only for its name: an unreadable copy is named by its ID instead.
                .flatMap { try? JSONDecoder().decode(ContainerRecord.self, from: Data($0)) }
                .map { "\($0.name) (\($0.shortID))" } ?? String(id.prefix(12))
        }
        var what: [String] = []
        if !names.isEmpty { what.append("\(names.count) container(s): \(names.joined(separator: ", "))") }
        if !lostNetworks.isEmpty { what.append("network(s) \(lostNetworks.sorted().joined(separator: ", "))") }
        if what.isEmpty { what.append("\(audit.lostKeys.count) record(s) kept in \(configuration.recordsDir)") }
        return "the state database \(configuration.storePath) does not account for \(what.joined(separator: " and ")) "
            + "(emptied, deleted or rolled back?); nothing was changed or stopped: start berthd with --recover to take "
            + "them back under management, or with --remove-unrecorded to remove what the database does not record"
    }
}

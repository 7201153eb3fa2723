import BerthCore
import Foundation
import Store
import Testing

@Suite struct StateAuditTests {
    let running = "c1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

    @Test func intactStateIsClean() {
        let stored: Set = ["daemon/id", "networks/n", "containers/" + running]
        let audit = StateAudit.audit(storedKeys: stored, copiedKeys: ["daemon/id", "containers/" + running],
                                     containerPrefix: "containers/", runcContainers: [running])
        #expect(audit.isClean)
    }

    @Test func recordsWithoutCopiesAreNotLoss() {
        // A crash between a delete's two steps, or an install from before the copies.
        let audit = StateAudit.audit(storedKeys: ["daemon/id", "containers/x"], copiedKeys: [],
                                     containerPrefix: "containers/", runcContainers: [])
        #expect(audit.isClean)
    }

    @Test func emptiedDatabaseIsLoss() {
        let audit = StateAudit.audit(storedKeys: [], copiedKeys: ["daemon/id", "containers/" + running, "networks/n"],
                                     containerPrefix: "containers/", runcContainers: [running])
        #expect(audit.lostKeys == ["containers/" + running, "daemon/id", "networks/n"])
        #expect(audit.unrecordedContainers == [running])
        #expect(!audit.isClean)
    }

    @Test func runcContainerWithoutRecordIsLossEvenWithoutCopies() {
        let audit = StateAudit.audit(storedKeys: ["daemon/id"], copiedKeys: [],
                                     containerPrefix: "containers/", runcContainers: [running])
        #expect(audit.unrecordedContainers == [running])
        #expect(audit.lostKeys.isEmpty)
    }

    @Test func runcContainerWhoseStartWasCutShortIsNotLoss() {
        // The record exists (saved before runc ran) but does not say running: cleaned as before.
        let audit = StateAudit.audit(storedKeys: ["containers/" + running], copiedKeys: ["containers/" + running],
                                     containerPrefix: "containers/", runcContainers: [running])
        #expect(audit.isClean)
    }
}

@Suite struct MirroredStoreTests {
    func withStore(_ body: (MirroredStore, String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-mirror-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try MirroredStore(database: try SQLiteStore(path: directory + "/db"), directory: directory + "/records")
        try body(store, directory)
    }

    @Test func copiesFollowPutsAndDeletes() throws {
        try withStore { store, directory in
            try store.put("containers/a", Array("one".utf8))
            try store.put("networks/b", Array("two".utf8))
            try store.put("containers/a", Array("three".utf8))
            #expect(store.copiedKeys() == ["containers/a", "networks/b"])
            #expect(store.copy(of: "containers/a") == Array("three".utf8))
            var info = stat()
            #expect(stat(directory + "/records/containers/a", &info) == 0 && info.st_mode & 0o777 == 0o600)
            #expect(stat(directory + "/records", &info) == 0 && info.st_mode & 0o777 == 0o700)
            try store.delete("containers/a")
            #expect(store.copiedKeys() == ["networks/b"])
        }
    }

    @Test func failedTransactionLeavesNoCopyClaimingARecord() throws {
        try withStore { store, _ in
            try store.put("k/x", [1])
            #expect(throws: BerthError.self) { try store.put("k/y", [2], expectedRevision: 5) }
            #expect(store.copiedKeys() == ["k/x"])
        }
    }

    @Test func restoreAndDiscard() throws {
        try withStore { store, directory in
            try store.put("containers/a", [1])
            try store.put("daemon/id", Array("id".utf8))
            // The database loses everything; the copies stay.
            let emptied = try MirroredStore(database: try SQLiteStore(path: directory + "/db2"), directory: directory + "/records")
            let stored = Set(try emptied.database.list(prefix: "").map(\.key))
            #expect(!StateAudit.audit(storedKeys: stored, copiedKeys: emptied.copiedKeys(),
                                      containerPrefix: "containers/", runcContainers: []).isClean)
            #expect(try emptied.restoreFromCopies() == ["containers/a", "daemon/id"])
            #expect(try emptied.get("daemon/id")?.value == Array("id".utf8))
            #expect(try emptied.restoreFromCopies() == [])
            let third = try MirroredStore(database: try SQLiteStore(path: directory + "/db3"), directory: directory + "/records")
            #expect(try third.discardCopiesWithoutRecords() == ["containers/a", "daemon/id"])
            #expect(third.copiedKeys() == [])
        }
    }

    @Test func unfinishedCopiesAreRemovedAtOpen() throws {
        try withStore { store, directory in
            try store.put("containers/a", [1])
            let leftover = directory + "/records/containers/.a.tmp-1234"
            #expect(FileManager.default.createFile(atPath: leftover, contents: Data([2])))
            _ = try MirroredStore(database: store.database, directory: directory + "/records")
            #expect(!FileManager.default.fileExists(atPath: leftover))
            #expect(store.copiedKeys() == ["containers/a"])
        }
    }

    @Test func missingCopiesAreWritten() throws {
        try withStore { store, directory in
            try store.database.put("containers/old", [7])
            #expect(try store.writeMissingCopies() == 1)
            #expect(store.copy(of: "containers/old") == [7])
            #expect(try store.writeMissingCopies() == 0)
        }
    }

    @Test func databaseFileIsPrivate() throws {
        try withStore { store, directory in
            try store.put("k", [1])
            for file in ["db", "db-wal", "db-shm"] {
                var info = stat()
                #expect(stat(directory + "/" + file, &info) == 0)
                #expect(info.st_mode & 0o777 == 0o600, "\(file)")
            }
        }
    }
}

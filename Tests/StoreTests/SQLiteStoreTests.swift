import BerthCore
import Foundation
import Store
import Testing

@Suite struct SQLiteStoreTests {
    func withStore(_ body: (SQLiteStore, String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(try SQLiteStore(path: directory + "/db"), directory)
    }

    @Test func putGetListDelete() throws {
        try withStore { store, _ in
            try store.put("networks/a", Array("1".utf8))
            try store.put("networks/b", Array("2".utf8))
            try store.put("containers/c", Array("3".utf8))
            #expect(try store.get("networks/a")?.value == Array("1".utf8))
            #expect(try store.list(prefix: "networks/").map(\.key) == ["networks/a", "networks/b"])
            try store.delete("networks/a")
            #expect(try store.get("networks/a") == nil)
            #expect(try store.list(prefix: "").count == 2)
        }
    }

    @Test func compareAndSwap() throws {
        try withStore { store, _ in
            let first = try store.put("k", [1], expectedRevision: 0)
            #expect(throws: BerthError.self) { try store.put("k", [2], expectedRevision: 0) }
            let second = try store.put("k", [3], expectedRevision: first)
            #expect(second > first)
            #expect(throws: BerthError.self) { try store.put("k", [4], expectedRevision: first) }
            #expect(try store.get("k")?.value == [3])
            #expect(throws: BerthError.self) { try store.delete("k", expectedRevision: first) }
            try store.delete("k", expectedRevision: second)
        }
    }

    @Test func failedTransactionWritesNothing() throws {
        try withStore { store, _ in
            try store.put("taken", [1])
            #expect(throws: BerthError.self) {
                try store.apply([.put(key: "new", value: [1], expectedRevision: nil),
                                 .put(key: "taken", value: [2], expectedRevision: 0)])
            }
            #expect(try store.get("new") == nil)
            #expect(try store.get("taken")?.value == [1])
        }
    }

    @Test func survivesReopen() throws {
        try withStore { store, directory in
            try store.put("persist", [9, 9])
            let reopened = try SQLiteStore(path: directory + "/db")
            #expect(try reopened.get("persist")?.value == [9, 9])
        }
    }
}

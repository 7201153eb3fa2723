import BerthCore
import Foundation
import Testing
@testable import ContainerRuntime

@Suite struct ImageStoreTests {
    private func code(of body: () throws -> Void) -> ErrorCode? {
        do { try body() } catch let error as BerthError { return error.code } catch { return .internal }
        return nil
    }

    @Test func importListLookupRemoveRoundTrip() throws {
        let dir = try TemporaryDirectory("images")
        defer { dir.cleanup() }
        let tarball = try makeBusyboxTarball(in: dir.path) ?? makeTinyTarball(in: dir.path, marker: "a")
        let store = try ImageStore(root: "\(dir.path)/images")

        let before = Date()
        let image = try store.importTarball(path: tarball, name: "test/busybox:1.0")
        // The ID is the tarball's SHA-256, checked against coreutils rather than berth's own helper.
        let (status, sha256sum) = try shell("/usr/bin/sha256sum", ["--", tarball])
        #expect(status == 0)
        #expect(image.id == "sha256:" + sha256sum.prefix(64))
        #expect(image.repoTags == ["test/busybox:1.0"])
        #expect(image.size > 0)
        #expect(image.created >= before.addingTimeInterval(-1))
        #expect(image.os == "linux")
        let rootfs = store.rootfsPath(of: image)
        #expect(FileManager.default.fileExists(atPath: "\(rootfs)/bin/sh") || (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(rootfs)/bin/sh")) != nil)
        #expect(FileManager.default.fileExists(atPath: "\(dir.path)/images/\(image.hexID)/image.json"))

        #expect(store.list().map(\.id) == [image.id])
        for reference in ["test/busybox:1.0", image.id, image.hexID, image.shortID, String(image.hexID.prefix(4)),
                          "sha256:" + image.shortID] {
            #expect(try store.lookup(reference: reference).id == image.id, "lookup \(reference)")
        }
        #expect(code { _ = try store.lookup(reference: "test/busybox") } == .notFound)
        #expect(code { _ = try store.lookup(reference: "nothing") } == .notFound)
        do {
            _ = try store.lookup(reference: "nothing:here")
            Issue.record("expected notFound")
        } catch let error as BerthError {
            #expect(error.message == "no such image: nothing:here")
        }

        // Same bytes under a second name: same image, two tags.
        let again = try store.importTarball(path: tarball, name: "other")
        #expect(again.id == image.id)
        #expect(Set(again.repoTags) == ["test/busybox:1.0", "other:latest"])
        #expect(store.list().count == 1)

        // Survives a restart.
        let reopened = try ImageStore(root: "\(dir.path)/images")
        #expect(reopened.list() == store.list())

        // By ID with two tags needs force; by tag only untags.
        #expect(code { try store.remove(reference: image.shortID) } == .conflict)
        let untag = try store.remove(reference: "other")
        #expect(untag == ImageRemoval(untagged: ["other:latest"], deleted: []))
        #expect(try store.lookup(reference: image.id).repoTags == ["test/busybox:1.0"])

        let removal = try store.remove(reference: "test/busybox:1.0")
        #expect(removal == ImageRemoval(untagged: ["test/busybox:1.0"], deleted: [image.id]))
        #expect(store.list().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: rootfs))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dir.path)/images").isEmpty)
        #expect(code { try store.remove(reference: image.id) } == .notFound)
    }

    @Test func tagMovesToNewerImageAndForcedRemoval() throws {
        let dir = try TemporaryDirectory("tags")
        defer { dir.cleanup() }
        let store = try ImageStore(root: "\(dir.path)/images")
        let first = try store.importTarball(path: try makeTinyTarball(in: dir.path, marker: "one"), name: "app")
        let second = try store.importTarball(path: try makeTinyTarball(in: dir.path, marker: "two"), name: "app:latest")
        #expect(first.id != second.id)
        #expect(try store.lookup(reference: "app").id == second.id)
        #expect(try store.lookup(reference: first.id).repoTags.isEmpty) // dangling now

        try store.tag(reference: "app", as: "app:v2")
        try store.tag(reference: "app", as: "mirror/app")
        #expect(Set(try store.lookup(reference: second.id).repoTags) == ["app:latest", "app:v2", "mirror/app:latest"])
        let forced = try store.remove(reference: second.id, force: true)
        #expect(forced.deleted == [second.id])
        #expect(Set(forced.untagged) == ["app:latest", "app:v2", "mirror/app:latest"])
        #expect(store.list().map(\.id) == [first.id])

        let untagged = try store.importTarball(path: try makeTinyTarball(in: dir.path, marker: "three"), name: nil)
        #expect(untagged.repoTags.isEmpty)
        #expect(store.list().count == 2)
    }

    @Test func failedImportLeavesNothing() throws {
        let dir = try TemporaryDirectory("badimport")
        defer { dir.cleanup() }
        let store = try ImageStore(root: "\(dir.path)/images")
        let garbage = "\(dir.path)/garbage.tar"
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 13) }).write(to: URL(fileURLWithPath: garbage))

        #expect(code { try store.importTarball(path: garbage, name: "bad") } == .invalidArgument)
        #expect(code { try store.importTarball(path: "\(dir.path)/missing.tar", name: "bad") } == .notFound)
        #expect(code { try store.importTarball(path: garbage, name: "Bad Name") } == .invalidArgument)
        #expect(store.list().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dir.path)/images").isEmpty)
    }

    @Test func leftoverStagingIsSweptAtStartup() throws {
        let dir = try TemporaryDirectory("sweep")
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: "\(dir.path)/images/.tmp-crashed/rootfs", withIntermediateDirectories: true)
        _ = try ImageStore(root: "\(dir.path)/images")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dir.path)/images").isEmpty)
    }

    @Test func unreadableRecordsAreSkippedAndNamed() throws {
        let dir = try TemporaryDirectory("unreadable")
        defer { dir.cleanup() }
        let hex = String(repeating: "ab", count: 32)
        let other = String(repeating: "cd", count: 32)
        try FileManager.default.createDirectory(atPath: "\(dir.path)/images/\(hex)", withIntermediateDirectories: true)
        try Data("not json".utf8).write(to: URL(fileURLWithPath: "\(dir.path)/images/\(hex)/image.json"))
        try FileManager.default.createDirectory(atPath: "\(dir.path)/images/\(other)", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(dir.path)/images/lost+found", withIntermediateDirectories: true)
        let store = try ImageStore(root: "\(dir.path)/images")
        #expect(store.list().isEmpty)
        #expect(store.unreadable.count == 2)
        #expect(store.unreadable.contains { $0.hasPrefix(hex + ": ") })
        #expect(store.unreadable.contains { $0 == other + ": image.json missing or unreadable" })
    }

    @Test func ambiguousPrefixIsReported() throws {
        let dir = try TemporaryDirectory("ambiguous")
        defer { dir.cleanup() }
        let store = try ImageStore(root: "\(dir.path)/images")
        var ids: [String] = []
        for marker in 0..<20 {
            ids.append(try store.importTarball(path: try makeTinyTarball(in: dir.path, marker: "m\(marker)"), name: nil).hexID)
        }
        // With 20 images two share a first hex digit (pigeonhole over 16 digits).
        let firstDigits = Dictionary(grouping: ids, by: { $0.prefix(1) })
        let shared = try #require(firstDigits.first { $0.value.count > 1 }?.key)
        #expect(code { _ = try store.lookup(reference: String(shared)) } == .invalidArgument)
    }
}

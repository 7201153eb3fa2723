import BerthCore
import Foundation
import Glibc
import Testing
@testable import ContainerRuntime

@Suite(.enabled(if: TestEnvironment.isRoot, "mounting needs root"))
struct RootFilesystemTests {
    private func makeLower(in dir: String) throws -> String {
        let lower = "\(dir)/image/rootfs"
        try FileManager.default.createDirectory(atPath: "\(lower)/etc", withIntermediateDirectories: true)
        try Data("from image\n".utf8).write(to: URL(fileURLWithPath: "\(lower)/etc/motd"))
        return lower
    }

    @Test func overlayPrepareWriteRelease() throws {
        let dir = try TemporaryDirectory("overlay")
        defer {
            try? RootFilesystem.release(containerDir: "\(dir.path)/container")
            dir.cleanup()
        }
        let lower = try makeLower(in: dir.path)
        let container = "\(dir.path)/container"
        let result = try RootFilesystem.prepareReportingKind(containerDir: container, imageRootfs: lower)
        #expect(result.kind == .overlay)
        #expect(result.path == "\(container)/rootfs")
        #expect(RootFilesystem.isMounted(containerDir: container))
        #expect(try String(contentsOfFile: "\(result.path)/etc/motd", encoding: .utf8) == "from image\n")

        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: "\(result.path)/etc/motd"))
        try Data("new\n".utf8).write(to: URL(fileURLWithPath: "\(result.path)/new"))
        #expect(FileManager.default.fileExists(atPath: "\(container)/upper/new"))
        #expect(try String(contentsOfFile: "\(lower)/etc/motd", encoding: .utf8) == "from image\n")

        // A restarted daemon preparing again reuses the mount.
        #expect(try RootFilesystem.prepare(containerDir: container, imageRootfs: lower) == result.path)
        #expect(MountTable.mountPoints().filter { $0 == MountTable.canonical(result.path) }.count == 1)

        try RootFilesystem.release(containerDir: container)
        #expect(!RootFilesystem.isMounted(containerDir: container))
        for entry in ["rootfs", "upper", "work"] {
            #expect(!FileManager.default.fileExists(atPath: "\(container)/\(entry)"))
        }
        #expect(try String(contentsOfFile: "\(lower)/etc/motd", encoding: .utf8) == "from image\n")
        try RootFilesystem.release(containerDir: container) // idempotent
        try RootFilesystem.release(containerDir: "\(dir.path)/never-prepared")
    }

    /// overlayfs cannot use another overlay as its upper layer, which forces the copy fallback.
    @Test func fallsBackToCopyWhenOverlayIsUnusable() throws {
        let dir = try TemporaryDirectory("fallback")
        let outer = "\(dir.path)/outer"
        defer {
            try? RootFilesystem.release(containerDir: "\(outer)/merged/container")
            try? RootFilesystem.release(containerDir: outer)
            dir.cleanup()
        }
        let lower = try makeLower(in: dir.path)
        try FileManager.default.createDirectory(atPath: "\(dir.path)/empty", withIntermediateDirectories: true)
        let outerRoot = try RootFilesystem.prepare(containerDir: outer, imageRootfs: "\(dir.path)/empty")
        let container = "\(outerRoot)/container"

        #expect {
            try RootFilesystem.prepare(containerDir: container, imageRootfs: lower, allowCopyFallback: false)
        } throws: { ($0 as? BerthError)?.code == .kernel }

        let result = try RootFilesystem.prepareReportingKind(containerDir: container, imageRootfs: lower)
        #expect(result.kind == .copy)
        #expect(try String(contentsOfFile: "\(result.path)/etc/motd", encoding: .utf8) == "from image\n")
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: "\(result.path)/etc/motd"))
        #expect(try String(contentsOfFile: "\(lower)/etc/motd", encoding: .utf8) == "from image\n")
        #expect(try RootFilesystem.prepareReportingKind(containerDir: container, imageRootfs: lower).kind == .copy)
        try RootFilesystem.release(containerDir: container)
        #expect(!FileManager.default.fileExists(atPath: "\(container)/copy"))
        #expect(!RootFilesystem.isMounted(containerDir: container))
    }

    @Test func missingImageRootfsIsNotFound() throws {
        let dir = try TemporaryDirectory("missing")
        defer { dir.cleanup() }
        #expect {
            try RootFilesystem.prepare(containerDir: "\(dir.path)/c", imageRootfs: "\(dir.path)/nope")
        } throws: { ($0 as? BerthError)?.code == .notFound }
    }
}

import BerthCore
import Foundation
import Testing
@testable import ContainerRuntime

/// import's and tag's repo/tag parameters, `untag`, and top's ps parsing.
@Suite struct ImageTagTests {
    @Test func repoAndTagCombineAsDocker() throws {
        // `docker import f name:tag` sends repo "name:tag" and no tag.
        #expect(try ImageReference(repo: "mine:v1", tag: nil).description == "mine:v1")
        #expect(try ImageReference(repo: "mine:v1", tag: "").description == "mine:v1")
        #expect(try ImageReference(repo: "mine", tag: nil).description == "mine:latest")
        // `docker tag a b:v2` sends repo "b" and tag "v2"; a tag parameter wins over repo's own.
        #expect(try ImageReference(repo: "other", tag: "v2").description == "other:v2")
        #expect(try ImageReference(repo: "other:v1", tag: "v2").description == "other:v2")
        #expect(try ImageReference(repo: "localhost:5000/x", tag: nil).description == "localhost:5000/x:latest")
        #expect(throws: BerthError.self) { try ImageReference(repo: "Upper", tag: nil) }
        #expect(throws: BerthError.self) { try ImageReference(repo: "ok", tag: "-bad") }
    }

    @Test func untagTakesEvenTheLastTagAndKeepsTheImage() throws {
        let dir = try TemporaryDirectory("image-tags")
        defer { dir.cleanup() }
        let tarball = try makeTinyTarball(in: dir.path, marker: "t")
        let store = try ImageStore(root: "\(dir.path)/images")
        let image = try store.importTarball(path: tarball, name: "mine:v1")
        try store.tag(reference: "mine:v1", as: "other:v2")
        #expect(Set(try store.lookup(reference: image.id).repoTags) == ["mine:v1", "other:v2"])
        try store.untag(ImageReference(parsing: "other:v2"))
        try store.untag(ImageReference(parsing: "mine:v1"))
        #expect(try store.lookup(reference: image.id).repoTags.isEmpty)
        #expect(throws: BerthError.self) { try store.untag(ImageReference(parsing: "mine:v1")) }
        // Written through: a new store over the same directory sees the same.
        let reopened = try ImageStore(root: "\(dir.path)/images")
        #expect(try reopened.lookup(reference: image.id).repoTags.isEmpty)
    }

    @Test func psOutputIsCutToTheContainersPids() throws {
        let output = """
        UID          PID    PPID  C STIME TTY          TIME CMD
        root           1       0  0 16:00 ?        00:00:01 /sbin/init
        root         812     700  0 16:01 ?        00:00:00 sleep 600
        root         813     812  0 16:01 ?        00:00:00 sh -c echo  two   spaces

        """
        let table = try ProcessTable.parse(output, keeping: [812, 813])
        #expect(table.titles == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"])
        #expect(table.processes == [
            ["root", "812", "700", "0", "16:01", "?", "00:00:00", "sleep 600"],
            ["root", "813", "812", "0", "16:01", "?", "00:00:00", "sh -c echo two spaces"],
        ])
        #expect(throws: BerthError.self) { try ProcessTable.parse("USER COMMAND\nroot init\n", keeping: [1]) }
        #expect(ProcessTable.arguments(nil) == ["-ef"])
        #expect(ProcessTable.arguments("  ") == ["-ef"])
        #expect(ProcessTable.arguments("-o pid,comm") == ["-o", "pid,comm"])
    }
}

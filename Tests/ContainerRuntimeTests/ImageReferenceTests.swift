import BerthCore
import Testing
@testable import ContainerRuntime

@Suite struct ImageReferenceTests {
    @Test(arguments: [
        ("busybox", "busybox", "latest"),
        ("busybox:1.36", "busybox", "1.36"),
        ("berth/busybox:v1.0-rc_2", "berth/busybox", "v1.0-rc_2"),
        ("localhost:5000/foo/bar:tag", "localhost:5000/foo/bar", "tag"),
        ("localhost:5000/foo", "localhost:5000/foo", "latest"),
        ("registry.example.com/team/app", "registry.example.com/team/app", "latest"),
        ("docker.io/library/busybox:musl", "busybox", "musl"),
        ("docker.io/someone/tool", "someone/tool", "latest"),
        ("library/alpine", "alpine", "latest"),
        ("a__b.c-----d", "a__b.c-----d", "latest"),
        ("x:Latest_2", "x", "Latest_2"),
    ])
    func parsesValid(text: String, name: String, tag: String) throws {
        let reference = try ImageReference(parsing: text)
        #expect(reference.name == name)
        #expect(reference.tag == tag)
        #expect(reference.description == "\(name):\(tag)")
    }

    @Test(arguments: [
        "", "BusyBox", "foo:", ":tag", "foo/", "/foo", "foo//bar", "-foo", "foo-", "foo:-tag",
        "foo@sha256:abcd", "a___b", "a..b", "foo bar", "foo:tag:more", "foo:" + String(repeating: "t", count: 129),
        "héllo", "localhost:port/foo",
    ])
    func rejectsInvalid(text: String) {
        #expect {
            try ImageReference(parsing: text)
        } throws: { error in
            (error as? BerthError)?.code == .invalidArgument
        }
    }
}

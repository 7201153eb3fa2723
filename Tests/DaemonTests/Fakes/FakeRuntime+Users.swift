import BerthCore
import ContainerRuntime
@testable import Daemon

/// `exec -u` over the fake: users come from a busybox-like passwd and group.
extension FakeRuntime {
    static let passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
    static let group = "root:x:0:\nnogroup:x:65534:\nstaff:x:50:nobody\n"

    func exec(id: String, args: [String], env: [String], workingDirectory: String?, user: OCISpec.User) async throws -> RuncExecProcess {
        throw BerthError.invalid("the fake runtime runs no processes")
    }

    func resolveUser(_ spec: String, pid: Int32) async throws -> ResolvedUser {
        try UserLookup.resolve(spec, passwd: Self.passwd, group: Self.group)
    }
}

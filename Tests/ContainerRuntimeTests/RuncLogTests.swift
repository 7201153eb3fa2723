import BerthCore
import Testing
@testable import ContainerRuntime

@Suite struct RuncLogTests {
    @Test func aCommandThatCannotRunIsTheClientsMistake() {
        let messages = [
            #"runc run failed: unable to start container process: exec: "nope": executable file not found in $PATH"#,
            #"unable to start container process: exec: "/bin/missing": stat /bin/missing: no such file or directory"#,
            #"unable to start container process: exec: "/etc/passwd": permission denied"#,
        ]
        for message in messages {
            #expect(RuncLog.error("run", id: "c", message: message).code == .invalidArgument)
            #expect(RuncLog.error("exec", id: "c", message: message).code == .invalidArgument)
        }
    }

    @Test func otherFailuresKeepTheirCodes() {
        #expect(RuncLog.error("run", id: "c", message: "container with id exists: c, already exists").code == .conflict)
        #expect(RuncLog.error("kill", id: "c", message: "container does not exist").code == .notFound)
        #expect(RuncLog.error("run", id: "c", message: "cgroup: open /sys/fs/cgroup/x: no such file or directory").code == .internal)
        #expect(RuncLog.error("delete", id: "c", message: "exec: no such file or directory").code == .internal)
    }
}

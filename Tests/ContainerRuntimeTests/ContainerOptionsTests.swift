import BerthCore
import Foundation
import Testing
@testable import ContainerRuntime

@Suite struct MountParsingTests {
    @Test func bindTakesDockersModes() throws {
        let plain = try ContainerMount.bind("/host/data:/data")
        #expect(plain == ContainerMount(kind: .bind, source: "/host/data", destination: "/data", readOnly: false,
                                        propagation: "rprivate", mode: "", createsMissingSource: true))
        let readOnly = try ContainerMount.bind("/h/:/d/:ro,private")
        #expect(readOnly.source == "/h" && readOnly.destination == "/d")
        #expect(readOnly.readOnly && readOnly.propagation == "private" && readOnly.mode == "ro,private")
        #expect(readOnly.ociMount == OCISpec.Mount(destination: "/d", type: "bind", source: "/h", options: ["rbind", "private", "ro"]))
    }

    @Test(arguments: [
        ("data:/data", "named volume \"data\""), ("/data", "anonymous volume /data"), ("./rel:/d", "must be absolute"),
        ("/h:rel", "not an absolute path"), ("/h:/", "can't be '/'"), ("/h:/d:ro,rw", "invalid mode"),
        ("/h:/d:bogus", "invalid mode: bogus"), ("/h:/d:rshared", "bind propagation rshared"), ("/h:/d:ro,slave", "propagation slave"), ("/h:/d/../x", "must not contain"),
    ])
    func bindRefusals(spec: String, message: String) {
        #expect(throws: BerthError.self) { try ContainerMount.bind(spec) }
        do { _ = try ContainerMount.bind(spec) } catch { #expect(error.message.contains(message), "\(error.message)") }
    }

    @Test func selinuxLabelsAreNothingToDoWithoutSELinux() throws {
        #expect(try ContainerMount.bind("/h:/d:ro,z", selinux: false).readOnly)
        #expect(try ContainerMount.bind("/h:/d:Z", selinux: false).mode == "Z")
        #expect(throws: BerthError.self) { try ContainerMount.bind("/h:/d:z", selinux: true) }
    }

    @Test func tmpfsKeepsDockersDefaultsUnderTheUsersOptions() throws {
        let mount = try ContainerMount.tmpfs(destination: "/run/x", options: "size=1m,mode=1770,exec")
        #expect(mount.ociMount == OCISpec.Mount(destination: "/run/x", type: "tmpfs", source: "tmpfs",
                                                options: ["noexec", "nosuid", "nodev", "size=1m", "mode=1770", "exec", "rw"]))
        #expect(try ContainerMount.tmpfs(destination: "/x", options: "ro").ociMount.options?.last == "ro")
        #expect(throws: BerthError.self) { try ContainerMount.tmpfs(destination: "/x", options: "huge=1") }
        #expect(throws: BerthError.self) { try ContainerMount.tmpfs(destination: "/x", options: "size") }
        #expect(throws: BerthError.self) { try ContainerMount.tmpfs(destination: "x", options: "") }
    }

    @Test func missingVSourceIsMadeAndMountSourceIsRefused() throws {
        let base = NSTemporaryDirectory() + "berth-mounts-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let made = try ContainerMount.bind("\(base)/new:/d")
        let sources = try ContainerMount.prepareSources([made])
        #expect(FileManager.default.fileExists(atPath: base + "/new"))
        #expect(ContainerMount.hiddenSources(sources).isEmpty)
        var strict = made
        strict.source = base + "/absent"
        strict.createsMissingSource = false
        #expect(throws: BerthError.self) { try ContainerMount.prepareSources([strict]) }
    }
}

@Suite struct UserLookupTests {
    static let passwd = """
        root:x:0:0:root:/root:/bin/sh
        daemon:x:1:1:daemon:/usr/sbin:/bin/false
        app:x:1000:1000:app:/home/app:/bin/sh
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false
        """
    static let group = """
        root:x:0:
        daemon:x:1:
        app:x:1000:
        staff:x:50:app,daemon
        audio:x:29:app
        nogroup:x:65534:
        """

    private func resolve(_ spec: String) throws -> ResolvedUser {
        try UserLookup.resolve(spec, passwd: Self.passwd, group: Self.group)
    }

    @Test func namesAndNumbersResolveWithTheirGroups() throws {
        #expect(try resolve("app") == ResolvedUser(uid: 1000, gid: 1000, additionalGids: [50, 29], home: "/home/app"))
        #expect(try resolve("nobody").gid == 65534)
        #expect(try resolve("1000").additionalGids == [50, 29])
        // A number nobody has stands for itself, with group 0, as in Docker.
        #expect(try resolve("4242") == ResolvedUser(uid: 4242, gid: 0, additionalGids: [], home: "/"))
        #expect(try resolve("1000:1000") == ResolvedUser(uid: 1000, gid: 1000, additionalGids: [50, 29], home: "/home/app"))
        #expect(try resolve("app:staff").gid == 50)
        #expect(try resolve("app:staff").additionalGids == [29])
        #expect(try resolve("4242:77") == ResolvedUser(uid: 4242, gid: 77, additionalGids: [], home: "/"))
        #expect(try resolve("app").ociUser == OCISpec.User(uid: 1000, gid: 1000, additionalGids: [50, 29]))
    }

    @Test func unknownNamesFailWithDockersMessage() throws {
        do {
            _ = try resolve("ghost")
            Issue.record("resolved a user that is not there")
        } catch {
            #expect((error as? BerthError)?.message == "unable to find user ghost: no matching entries in passwd file")
        }
        do {
            _ = try resolve("app:ghosts")
            Issue.record("resolved a group that is not there")
        } catch {
            #expect((error as? BerthError)?.message == "unable to find group ghosts: no matching entries in group file")
        }
        #expect(throws: BerthError.self) { try UserLookup.validate("a:b:c") }
        #expect(throws: BerthError.self) { try UserLookup.validate(":1") }
    }

    @Test func readsTheContainersFilesWithoutFollowingSymlinks() throws {
        let root = NSTemporaryDirectory() + "berth-users-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try Self.passwd.write(toFile: root + "/etc/passwd", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/group", withDestinationPath: "/etc/group")
        #expect(throws: BerthError.self) { try UserLookup.resolve("app", root: root) }
        try FileManager.default.removeItem(atPath: root + "/etc/group")
        #expect(try UserLookup.resolve("app", root: root) == ResolvedUser(uid: 1000, gid: 1000, additionalGids: [], home: "/home/app"))
    }
}

@Suite struct LaunchOptionsSpecTests {
    @Test func userInitMountsDomainAndReadOnlyRootReachTheSpec() throws {
        var launch = ContainerLaunch(id: "c1", rootfs: "/r", args: ["sleep", "9"], hostname: "web", network: .path("/n"),
                                     filesDir: "/f", cgroupPrefix: "berth", uid: 1000, gid: 1000)
        launch.additionalGids = [50]
        launch.domainname = "example.org"
        launch.initBinary = "/usr/bin/tini-static"
        launch.readonlyRootfs = true
        launch.mounts = [try ContainerMount.bind("/h:/d:ro")]
        let spec = OCIBundle.spec(for: launch)
        #expect(spec.process.user == OCISpec.User(uid: 1000, gid: 1000, additionalGids: [50]))
        #expect(spec.process.args == ["/sbin/docker-init", "--", "sleep", "9"])
        #expect(spec.domainname == "example.org")
        #expect(spec.linux.sysctl?["kernel.domainname"] == "example.org")
        #expect(spec.root.readonly)
        #expect(spec.mounts.contains(OCISpec.Mount(destination: "/sbin/docker-init", type: "bind", source: "/usr/bin/tini-static",
                                                   options: ["bind", "rprivate", "ro"])))
        #expect(spec.mounts.last == OCISpec.Mount(destination: "/d", type: "bind", source: "/h", options: ["rbind", "rprivate", "ro"]))
        launch.shareHostUTS = true
        #expect(OCIBundle.spec(for: launch).domainname == nil)
        #expect(OCIBundle.spec(for: launch).linux.sysctl?["kernel.domainname"] == nil)
    }
}

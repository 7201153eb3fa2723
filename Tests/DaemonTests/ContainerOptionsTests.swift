import BerthCore
import ContainerRuntime
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// Create options beyond networking: mounts, user, stop signal and timeout, extra hosts,
/// domain name, init — checked at create, applied at start.
@Suite struct ContainerOptionsTests {
    private func create(_ daemon: Harness, _ name: String, config: ContainerConfig = ContainerConfig(Cmd: ["sleep", "600"], Image: "busybox"),
                        host: HostConfig = HostConfig()) async throws -> String {
        try await daemon.controller.createContainer(ContainerCreateRequest(config: config, HostConfig: host), name: name).id
    }

    private func message(_ body: () async throws -> Void) async -> String? {
        do { try await body() } catch let error as BerthError { return error.message } catch { return "\(error)" }
        return nil
    }

    @Test func bindsAndTmpfsReachTheLaunchAndInspect() async throws {
        try await withDaemon { daemon in
            let source = daemon.directory + "/data"
            var host = HostConfig()
            host.Binds = ["\(source):/data:ro"]
            host.Tmpfs = ["/scratch": "size=1m"]
            host.Mounts = [MountRequest(Type: "bind", Source: daemon.directory, Target: "/all"),
                           MountRequest(Type: "tmpfs", Target: "/t", TmpfsOptions: .init(SizeBytes: 4096, Mode: 0o1770))]
            var config = ContainerConfig(Cmd: ["sleep", "600"], Image: "busybox")
            config.Volumes = ["/data": EmptyObject()]  // docker-py lists bind targets here
            let id = try await create(daemon, "c1", config: config, host: host)
            let mounts = try await daemon.inspect(id).Mounts
            #expect(mounts == [
                MountPoint(Type: "bind", Source: source, Destination: "/data", Mode: "ro", RW: false, Propagation: "rprivate"),
                MountPoint(Type: "bind", Source: daemon.directory, Destination: "/all", Mode: "", RW: true, Propagation: "rprivate"),
                MountPoint(Type: "tmpfs", Source: "", Destination: "/t", Mode: "", RW: true, Propagation: ""),
            ])
            #expect(try await daemon.controller.containerSummaries(all: true, limit: nil, filters: Filters()).first?.Mounts == mounts)
            try await daemon.controller.startContainer(id)
            let launched = try #require(daemon.runtime.snapshot.launches.last)
            #expect(launched.mounts.map(\.destination) == ["/data", "/scratch", "/all", "/t"])
            #expect(launched.mounts.last?.tmpfsOptions == ["size=4096", "mode=1770"])
        }
    }

    @Test func volumesAndMissingMountSourcesAreRefusedBeforeAnythingIsStored() async throws {
        try await withDaemon { daemon in
            var named = HostConfig()
            named.Binds = ["data:/data"]
            #expect(await message { _ = try await create(daemon, "a", host: named) }?.contains("berth has no volumes") == true)
            var anonymous = ContainerConfig(Cmd: ["sleep", "1"], Image: "busybox")
            anonymous.Volumes = ["/cache": EmptyObject()]
            #expect(await message { _ = try await create(daemon, "b", config: anonymous) }?.contains("anonymous volume /cache") == true)
            var missing = HostConfig()
            missing.Mounts = [MountRequest(Type: "bind", Source: daemon.directory + "/absent", Target: "/x")]
            #expect(await message { _ = try await create(daemon, "c", host: missing) }
                == "invalid mount config for type \"bind\": bind source path does not exist: \(daemon.directory)/absent")
            var volume = HostConfig()
            volume.Mounts = [MountRequest(Type: "volume", Source: "v", Target: "/x")]
            #expect(await errorCode { _ = try await create(daemon, "d", host: volume) } == .invalidArgument)
            var shared = HostConfig()
            shared.Mounts = [MountRequest(Type: "bind", Source: daemon.directory, Target: "/x", BindOptions: .init(Propagation: "rshared"))]
            #expect(await message { _ = try await create(daemon, "f", host: shared) }?.contains("bind propagation rshared") == true)
            var twice = HostConfig()
            twice.Binds = ["/a:/x", "/b:/x/"]
            #expect(await message { _ = try await create(daemon, "e", host: twice) } == "Duplicate mount point: /x")
            let stored = try daemon.storedContainers()
            #expect(stored.isEmpty)
        }
    }

    @Test func badUserSignalWorkdirAndHostsAreRefused() async throws {
        try await withDaemon { daemon in
            var config = ContainerConfig(Cmd: ["sleep", "1"], Image: "busybox")
            config.User = "a:b:c"
            #expect(await errorCode { _ = try await create(daemon, "a", config: config) } == .invalidArgument)
            config.User = nil
            config.StopSignal = "SIGNOPE"
            #expect(await errorCode { _ = try await create(daemon, "b", config: config) } == .invalidArgument)
            config.StopSignal = nil
            config.WorkingDir = "relative"
            #expect(await errorCode { _ = try await create(daemon, "c", config: config) } == .invalidArgument)
            var host = HostConfig()
            host.ExtraHosts = ["nohost"]
            #expect(await errorCode { _ = try await create(daemon, "d", host: host) } == .invalidArgument)
            host.ExtraHosts = ["db:999.1.1.1"]
            #expect(await errorCode { _ = try await create(daemon, "e", host: host) } == .invalidArgument)
            let stored = try daemon.storedContainers()
            #expect(stored.isEmpty)
        }
    }

    @Test func stopSignalsTakeDockersNames() throws {
        #expect(try Signals.parse("SIGWINCH") == SIGWINCH)
        #expect(try Signals.parse("winch") == SIGWINCH)
        #expect(try Signals.parse("QUIT") == SIGQUIT)
        #expect(try Signals.parse("28") == 28)
        #expect(throws: BerthError.self) { try Signals.parse("SIGNOPE") }
        #expect(throws: BerthError.self) { try Signals.parse("65") }
    }

    @Test func stopUsesTheStopSignalAndTimeout() async throws {
        try await withDaemon { daemon in
            var config = ContainerConfig(Cmd: ["sleep", "600"], Image: "busybox")
            config.StopSignal = "SIGUSR1"
            let id = try await create(daemon, "c1", config: config)
            try await daemon.controller.startContainer(id)
            daemon.runtime.state.withLock { $0.fatalSignals = [SIGUSR1, SIGKILL] }
            #expect(try await daemon.controller.stopContainer(id, timeout: nil))
            #expect(daemon.runtime.snapshot.signals.map(\.signal) == [SIGUSR1])

            config.StopSignal = nil
            config.StopTimeout = 0
            let quick = try await create(daemon, "c2", config: config)
            try await daemon.controller.startContainer(quick)
            #expect(try await daemon.controller.stopContainer(quick, timeout: nil))
            #expect(daemon.runtime.snapshot.signals.map(\.signal) == [SIGUSR1, SIGKILL])

            // docker stop -s wins over the container's own signal.
            let asked = try await create(daemon, "c3", config: config)
            try await daemon.controller.startContainer(asked)
            daemon.runtime.state.withLock { $0.fatalSignals = [SIGTERM, SIGKILL] }
            #expect(try await daemon.controller.stopContainer(asked, timeout: 5, signal: SIGTERM))
            #expect(daemon.runtime.snapshot.signals.map(\.signal) == [SIGUSR1, SIGKILL, SIGTERM])
        }
    }

    @Test func extraHostsAndDomainGoIntoTheHostsFile() async throws {
        try await withDaemon { daemon in
            var config = ContainerConfig(Hostname: "web", Cmd: ["sleep", "600"], Image: "busybox")
            config.Domainname = "example.org"
            var host = HostConfig()
            host.ExtraHosts = ["db:10.9.8.7", "gw:host-gateway", "six:[2001:db8::1]"]
            let id = try await create(daemon, "c1", config: config, host: host)
            try await daemon.controller.startContainer(id)
            let gateway = try #require(try await daemon.inspect(id).NetworkSettings.Networks["bridge"]?.Gateway)
            let hosts = try String(contentsOfFile: daemon.configuration.containerDir(id) + "/hosts", encoding: .utf8)
            #expect(hosts.contains("10.9.8.7\tdb\n"))
            #expect(hosts.contains("\(gateway)\tgw\n"))
            #expect(hosts.contains("2001:db8::1\tsix\n"))
            let address = try #require(try await daemon.address(id))
            #expect(hosts.contains("\(address)\tweb.example.org web\n"))
            let launched = try #require(daemon.runtime.snapshot.launches.last)
            #expect(launched.domainname == "example.org")

            // Host mode: the host's file, then the extra entries.
            try "127.0.0.1 localhost".write(toFile: daemon.configuration.hostsPath, atomically: true, encoding: .utf8)
            var hostMode = HostConfig(NetworkMode: "host")
            hostMode.ExtraHosts = ["db:10.9.8.7"]
            let onHost = try await create(daemon, "c2", host: hostMode)
            try await daemon.controller.startContainer(onHost)
            let hostFile = try String(contentsOfFile: daemon.configuration.containerDir(onHost) + "/hosts", encoding: .utf8)
            #expect(hostFile == "127.0.0.1 localhost\n10.9.8.7\tdb\n")
            // container:NAME sees the other container's file: --add-host cannot apply.
            var shared = HostConfig(NetworkMode: "container:c1")
            shared.ExtraHosts = ["db:10.9.8.7"]
            #expect(await errorCode { _ = try await create(daemon, "c3", host: shared) } == .invalidArgument)
        }
    }

    @Test func userAndInitReachTheLaunch() async throws {
        try await withDaemon { daemon in
            var config = ContainerConfig(Cmd: ["sleep", "600"], Image: "busybox")
            config.User = "nobody:staff"
            var host = HostConfig()
            host.Init = FileManager.default.isExecutableFile(atPath: daemon.configuration.initPath)
            host.ReadonlyRootfs = true
            let id = try await create(daemon, "c1", config: config, host: host)
            try await daemon.controller.startContainer(id)
            let launched = try #require(daemon.runtime.snapshot.launches.last)
            #expect(launched.user == "nobody:staff")
            #expect(launched.readonlyRootfs)
            #expect(launched.initBinary == (host.Init == true ? daemon.configuration.initPath : nil))
            let resolved = try await daemon.runtime.resolveUser("nobody:staff", pid: 1)
            #expect(resolved.uid == 65534 && resolved.gid == 50)
            let exec = ExecCreateRequest(Cmd: ["id"])
            var badUser = exec
            badUser.User = "x:y:z"
            #expect(await errorCode { _ = try await daemon.controller.createExec(container: id, request: badUser) } == .invalidArgument)
            // An unknown user fails the create, where the client shows the message.
            badUser.User = "ghost"
            #expect(await errorCode { _ = try await daemon.controller.createExec(container: id, request: badUser) } == .invalidArgument)
            var goodUser = exec
            goodUser.User = "nobody"
            let execID = try await daemon.controller.createExec(container: id, request: goodUser)
            #expect(await daemon.controller.execs[execID]?.user == OCISpec.User(uid: 65534, gid: 65534, additionalGids: [50]))
        }
    }
}

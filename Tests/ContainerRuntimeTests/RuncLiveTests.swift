import BerthCore
import CLinux
import Foundation
import Glibc
import Testing
@testable import ContainerRuntime

/// End to end through the real runc: image import, overlay root, bundle, run, exec, kill,
/// exit report, delete, release. The container uses host network mode, so it shares the
/// host's network namespace without changing it, and it sends no traffic.
/// Opt-in: BERTH_LIVE_RUNC=1, as root, with runc and busybox-static installed.
@Suite(.enabled(if: TestEnvironment.liveRuncRequested && TestEnvironment.isRoot
                && TestEnvironment.runcPath != nil && TestEnvironment.hasBusybox,
                "set BERTH_LIVE_RUNC=1 and run as root with runc and busybox-static"))
struct RuncLiveTests {
    @Test func containerLifecycle() throws {
        let dir = try TemporaryDirectory("live")
        let id = "berth-live-" + UUID().uuidString.prefix(8).lowercased()
        let runc = Runc(binary: try #require(TestEnvironment.runcPath), root: "\(dir.path)/exec/runc")
        let containerDir = "\(dir.path)/containers/\(id)"
        let cgroupPrefix = "berth-test-" + UUID().uuidString.prefix(8).lowercased()
        defer {
            try? runc.delete(id: id, force: true)
            try? RootFilesystem.release(containerDir: containerDir)
            removeCgroupDirectories(named: cgroupPrefix)
            dir.cleanup()
        }

        // Container inits become our children once `runc run --detach` exits, as in the daemon.
        #expect(berth_set_child_subreaper() == 0)

        let tarball = try #require(try makeBusyboxTarball(in: dir.path))
        let store = try ImageStore(root: "\(dir.path)/images")
        let image = try store.importTarball(path: tarball, name: "busybox:live")
        let rootfs = try RootFilesystem.prepare(containerDir: containerDir, imageRootfs: store.rootfsPath(of: image))

        for (file, text) in [("hosts", "127.0.0.1\tlocalhost\n"), ("hostname", "berth-live\n"), ("resolv.conf", "nameserver 127.0.0.53\n")] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(containerDir)/\(file)"))
        }
        let launch = ContainerLaunch(id: id, rootfs: rootfs, args: ["sh", "-c", "echo hello; sleep 30"],
                                     env: ["GREETING=hi"], hostname: "berth-live", network: .host,
                                     filesDir: containerDir, cgroupPrefix: cgroupPrefix)
        try OCIBundle.create(at: containerDir, launch: launch)

        let logPath = "\(containerDir)/container.log"
        #expect(FileManager.default.createFile(atPath: logPath, contents: nil))
        let log = try #require(FileHandle(forWritingAtPath: logPath))
        let monitor = try ProcessMonitor()
        // A daemon typically ignores these (dispatch signal sources need SIG_IGN); the container
        // must still start with them at their defaults.
        let daemonIgnored = [SIGTERM, SIGINT, SIGHUP, SIGPIPE]
        let previous = daemonIgnored.map { signal($0, SIG_IGN) }
        let pid: Int32
        do {
            defer { for (number, handler) in zip(daemonIgnored, previous) { signal(number, handler) } }
            pid = try runc.run(id: id, bundle: containerDir, stdout: log, stderr: log)
        }
        try log.close()
        let startTime = try #require(ProcessMonitor.startTime(pid: pid))
        let exit = Delivery<Int32>()
        try monitor.watch(pid: pid, startTime: startTime) { exit.deliver($0) }

        #expect(try waitFor(seconds: 5) { (try? String(contentsOfFile: logPath, encoding: .utf8))?.contains("hello") == true })
        let state = try #require(try runc.state(id: id))
        #expect(state.status == "running")
        #expect(state.pid == pid)
        #expect(try runc.list() == [id])

        // The container init must not inherit the test thread's blocked signals (see Command.swift)
        // nor the ignored ones above.
        let status = try execOutput(runc, id, ["cat", "/proc/1/status"])
        func mask(_ field: String) -> UInt64? {
            status.split(separator: "\n").first { $0.hasPrefix(field) }
                .flatMap { UInt64($0.dropFirst(field.count).trimmingCharacters(in: .whitespaces), radix: 16) }
        }
        #expect(mask("SigBlk:") == 0)
        let ignored = try #require(mask("SigIgn:"))
        for number in daemonIgnored {
            #expect(ignored & (UInt64(1) << UInt64(number - 1)) == 0, "signal \(number) ignored in the container")
        }

        #expect(try execOutput(runc, id, ["echo", "hi"]) == "hi\n")
        #expect(try execOutput(runc, id, ["hostname"]) == "berth-live\n")
        #expect(try execOutput(runc, id, ["cat", "/etc/hostname"]) == "berth-live\n")
        #expect(try execOutput(runc, id, ["sh", "-c", "echo $GREETING $EXTRA"], env: ["EXTRA=there"]) == "hi there\n")
        let failing = try runc.exec(id: id, args: ["sh", "-c", "echo oops >&2; exit 3"])
        let errorText = failing.stderr.readDataToEndOfFile()
        _ = failing.stdout.readDataToEndOfFile()
        #expect(try failing.wait() == 3)
        #expect(String(decoding: errorText, as: UTF8.self) == "oops\n")
        #expect(throws: BerthError.self) { _ = try execOutput(runc, id, ["/no/such/binary"]) }

        // Writes land in the container's upper layer, never in the image.
        _ = try execOutput(runc, id, ["touch", "/created-inside"])
        #expect(FileManager.default.fileExists(atPath: "\(containerDir)/upper/created-inside"))
        #expect(!FileManager.default.fileExists(atPath: "\(store.rootfsPath(of: image))/created-inside"))

        try runc.kill(id: id, signal: SIGKILL)
        #expect(exit.wait(seconds: 10) == 128 + SIGKILL)
        #expect(!ProcessMonitor.isAlive(pid: pid, startTime: startTime))
        #expect(try waitFor(seconds: 5) { (try? runc.state(id: id))??.status == "stopped" })

        #expect {
            try runc.kill(id: id, signal: SIGTERM)
        } throws: { ($0 as? BerthError)?.code == .conflict || ($0 as? BerthError)?.code == .notFound }
        try runc.delete(id: id)
        #expect(try runc.state(id: id) == nil)
        #expect(try runc.list().isEmpty)
        #expect {
            try runc.delete(id: id)
        } throws: { ($0 as? BerthError)?.code == .notFound }

        try RootFilesystem.release(containerDir: containerDir)
        #expect(!RootFilesystem.isMounted(containerDir: containerDir))
    }

    @Test func runFailureCarriesRuncMessage() throws {
        let dir = try TemporaryDirectory("livefail")
        let runc = Runc(binary: try #require(TestEnvironment.runcPath), root: "\(dir.path)/runc")
        let cgroupPrefix = "berth-test-" + UUID().uuidString.prefix(8).lowercased()
        defer {
            removeCgroupDirectories(named: cgroupPrefix)
            dir.cleanup()
        }
        // A bundle whose rootfs does not exist.
        let launch = ContainerLaunch(id: "broken", rootfs: "\(dir.path)/missing-rootfs", args: ["sh"],
                                     hostname: "x", network: .host, filesDir: dir.path, cgroupPrefix: cgroupPrefix)
        try OCIBundle.create(at: "\(dir.path)/bundle", launch: launch)
        let log = try #require(FileHandle(forWritingAtPath: "/dev/null"))
        do {
            try runc.run(id: "broken", bundle: "\(dir.path)/bundle", stdout: log, stderr: log)
            Issue.record("runc run should have failed")
        } catch let error as BerthError {
            #expect(error.message.hasPrefix("runc run broken: "))
            #expect(error.message.count > "runc run broken: ".count)
            #expect(!error.message.contains("\"level\""), "message should be runc's text, not raw JSON")
        }
        #expect(try runc.state(id: "broken") == nil)
    }

    private func execOutput(_ runc: Runc, _ id: String, _ args: [String], env: [String] = []) throws -> String {
        let process = try runc.exec(id: id, args: args, env: env)
        let output = process.stdout.readDataToEndOfFile()
        _ = process.stderr.readDataToEndOfFile()
        let status = try process.wait()
        guard status == 0 else { throw TestFailure("exec \(args) exited \(status)") }
        return String(decoding: output, as: UTF8.self)
    }

    /// runc delete removes the container's cgroup but not the (now empty) prefix directory, which
    /// a relative prefix puts under this process's cgroup in every hierarchy.
    private func removeCgroupDirectories(named name: String) {
        func walk(_ directory: String, depth: Int) {
            guard depth <= 4, let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
            for entry in entries {
                let path = "\(directory)/\(entry)"
                var info = stat()
                guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { continue }
                if entry == name { rmdir(path) } else { walk(path, depth: depth + 1) }
            }
        }
        walk("/sys/fs/cgroup", depth: 0)
    }

    private func waitFor(seconds: Double, _ condition: () throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }
}

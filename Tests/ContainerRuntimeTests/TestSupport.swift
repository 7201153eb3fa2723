import Foundation
import Glibc
@testable import ContainerRuntime

/// A fresh directory under /tmp, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "test") throws {
        path = "/tmp/berth-rt-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Detaches anything a failed test left mounted below the directory first, so the recursive
    /// delete can never reach through a mount into an image or the host.
    func cleanup() {
        let mounted = MountTable.mountPoints().filter { $0.hasPrefix(path + "/") }
        for mountPoint in mounted.reversed() { _ = umount2(mountPoint, Int32(MNT_DETACH)) }
        guard MountTable.mountPoints().allSatisfy({ !$0.hasPrefix(path + "/") }) else { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}

enum TestEnvironment {
    static var isRoot: Bool { getuid() == 0 }
    static var hasBusybox: Bool { access("/bin/busybox", X_OK) == 0 }
    static var liveRuncRequested: Bool { ProcessInfo.processInfo.environment["BERTH_LIVE_RUNC"] == "1" }
    static var runcPath: String? {
        ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"].first { access($0, X_OK) == 0 }
    }

    /// scripts/make-busybox-image.sh, found from this file's location in the repository.
    static var busyboxScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/make-busybox-image.sh").path
    }
}

/// Runs a command to completion and returns (status, stdout).
/// Uses the target's own Command runner, which also spawns with a clean signal mask.
@discardableResult
func shell(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
    let output = try Command.run(executable, arguments)
    if output.status != 0 { print("\(executable) \(arguments) failed: \(output.diagnostic)") }
    return (output.status, String(decoding: output.stdout, as: UTF8.self))
}

/// A tiny rootfs tarball whose content (and so image ID) depends on `marker`.
func makeTinyTarball(in directory: String, marker: String) throws -> String {
    let tree = "\(directory)/tree-\(marker)"
    try FileManager.default.createDirectory(atPath: "\(tree)/etc", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: "\(tree)/bin", withIntermediateDirectories: true)
    try Data("marker \(marker)\n".utf8).write(to: URL(fileURLWithPath: "\(tree)/etc/marker"))
    try FileManager.default.createSymbolicLink(atPath: "\(tree)/bin/sh", withDestinationPath: "busybox")
    let tarball = "\(directory)/tiny-\(marker).tar"
    let (status, _) = try shell("/bin/tar", ["-c", "-f", tarball, "-C", tree, "--sort=name", "--mtime=@0",
                                             "--owner=0", "--group=0", "--numeric-owner", "."])
    guard status == 0 else { throw TestFailure("tar failed") }
    return tarball
}

/// The busybox image via the repository script when busybox-static is installed.
func makeBusyboxTarball(in directory: String) throws -> String? {
    guard TestEnvironment.hasBusybox else { return nil }
    let out = "\(directory)/busybox.tar"
    let (status, _) = try shell("/bin/sh", [TestEnvironment.busyboxScript, out])
    guard status == 0 else { throw TestFailure("make-busybox-image.sh failed with \(status)") }
    return out
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// posix_spawn, so the child is ours and not Foundation.Process's (which would reap it).
func spawn(_ arguments: [String], stdout: Int32? = nil) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, 1) }
    // Test threads block most signals and posix_spawn would pass that mask on; a shell whose
    // SIGCHLD is blocked never returns from `wait`.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
    guard result == 0 else { throw TestFailure("posix_spawn \(arguments[0]) failed: \(result)") }
    return pid
}

/// Thread-safe slot for a value delivered from a callback, with a bounded wait.
final class Delivery<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value?
    private let semaphore = DispatchSemaphore(value: 0)

    func deliver(_ newValue: Value) {
        lock.lock()
        value = newValue
        lock.unlock()
        semaphore.signal()
    }

    func wait(seconds: Double) -> Value? {
        guard semaphore.wait(timeout: .now() + seconds) == .success else { return nil }
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

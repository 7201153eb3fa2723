import Foundation
import Glibc
import Testing
@testable import ContainerRuntime

@Suite struct ProcessMonitorTests {
    @Test func reportsChildExitCode() throws {
        let monitor = try ProcessMonitor()
        let pid = try spawn(["/bin/sh", "-c", "sleep 0.2; exit 7"])
        let start = try #require(ProcessMonitor.startTime(pid: pid))
        #expect(ProcessMonitor.isAlive(pid: pid, startTime: start))
        let delivery = Delivery<Int32>()
        try monitor.watch(pid: pid, startTime: start) { delivery.deliver($0) }
        #expect(delivery.wait(seconds: 10) == 7)
        // Reaped by the monitor: the pid is gone, not a zombie.
        #expect(!ProcessMonitor.isAlive(pid: pid, startTime: start))
        #expect(kill(pid, 0) == -1 && errno == ESRCH)
        #expect(monitor.watchedPIDs.isEmpty)
    }

    @Test func reportsSignalAs128PlusSignal() throws {
        let monitor = try ProcessMonitor()
        let pid = try spawn(["/bin/sleep", "30"])
        let delivery = Delivery<Int32>()
        try monitor.watch(pid: pid) { delivery.deliver($0) }
        kill(pid, SIGKILL)
        #expect(delivery.wait(seconds: 10) == 128 + SIGKILL)
    }

    @Test func alreadyExitedZombieIsStillCollected() throws {
        let monitor = try ProcessMonitor()
        let pid = try spawn(["/bin/sh", "-c", "exit 3"])
        var info = siginfo_t()
        _ = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) // wait for exit, leave the zombie
        let delivery = Delivery<Int32>()
        try monitor.watch(pid: pid) { delivery.deliver($0) }
        #expect(delivery.wait(seconds: 10) == 3)
    }

    /// A grandchild is not ours to reap: waitid says ECHILD and the code is unknown.
    @Test func notOurChildReportsUnknown() throws {
        let monitor = try ProcessMonitor()
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        let shell = try spawn(["/bin/sh", "-c", "sleep 0.3 & echo $!; wait"], stdout: fds[1])
        close(fds[1])
        defer { close(fds[0]) }
        var line = [UInt8]()
        var byte: UInt8 = 0
        while read(fds[0], &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(byte) }
        let grandchild = try #require(Int32(String(decoding: line, as: UTF8.self)))
        let delivery = Delivery<Int32>()
        try monitor.watch(pid: grandchild) { delivery.deliver($0) }
        #expect(delivery.wait(seconds: 10) == ProcessMonitor.unknownExitCode)
        var status: Int32 = 0
        #expect(waitpid(shell, &status, 0) == shell) // our own child, by pid
    }

    @Test func goneOrReusedPidReportsUnknown() throws {
        let monitor = try ProcessMonitor()
        let pid = try spawn(["/bin/true"])
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        let gone = Delivery<Int32>()
        try monitor.watch(pid: pid) { gone.deliver($0) }
        #expect(gone.wait(seconds: 5) == ProcessMonitor.unknownExitCode)

        let live = try spawn(["/bin/sleep", "30"])
        defer { kill(live, SIGKILL); _ = waitpid(live, &status, 0) }
        let start = try #require(ProcessMonitor.startTime(pid: live))
        let reused = Delivery<Int32>()
        try monitor.watch(pid: live, startTime: start &+ 1) { reused.deliver($0) }
        #expect(reused.wait(seconds: 5) == ProcessMonitor.unknownExitCode)
        #expect(!ProcessMonitor.isAlive(pid: live, startTime: start &+ 1))
        #expect(ProcessMonitor.isAlive(pid: live, startTime: start))
    }

    @Test func cancelledWatchDoesNotFire() throws {
        let monitor = try ProcessMonitor()
        let pid = try spawn(["/bin/sh", "-c", "sleep 0.3; exit 4"])
        let delivery = Delivery<Int32>()
        try monitor.watch(pid: pid) { delivery.deliver($0) }
        #expect(monitor.watchedPIDs == [pid])
        monitor.cancel(pid: pid)
        #expect(delivery.wait(seconds: 1) == nil)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect((status >> 8) & 0xff == 4)
    }

    @Test func manyWatchesAtOnce() throws {
        let monitor = try ProcessMonitor()
        let deliveries = (0..<20).map { _ in Delivery<Int32>() }
        for (index, delivery) in deliveries.enumerated() {
            let pid = try spawn(["/bin/sh", "-c", "sleep 0.\(index % 5); exit \(index)"])
            try monitor.watch(pid: pid) { delivery.deliver($0) }
        }
        for (index, delivery) in deliveries.enumerated() {
            #expect(delivery.wait(seconds: 10) == Int32(index))
        }
    }

    @Test func parsesProcStatWithAwkwardCommandName() throws {
        let sample = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100"
        let parsed = try #require(ProcessMonitor.parseProcStat(sample))
        #expect(parsed.state == "S")
        #expect(parsed.startTime == 987654)
        #expect(ProcessMonitor.parseProcStat("garbage") == nil)
        #expect(ProcessMonitor.startTime(pid: getpid()) != nil)
    }
}

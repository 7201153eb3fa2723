@testable import Daemon
import Foundation
import HTTPUnix
import Testing

@Suite("Container stdio: capture, attached clients, stdin")
struct ContainerStdioTests {
    private static func pipeEnds() -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        _ = pipe(&ends)
        return (ends[0], ends[1])
    }

    private static func write(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    @Test func outputReachesAClientAttachedBeforeTheRunAndTheLog() async throws {
        let directory = NSTemporaryDirectory() + "stdio-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stdio = ContainerStdio(id: "c1", directory: directory, queue: DispatchQueue(label: "test"), poller: OutputPoller())
        // Attached before the start, as `docker run` does.
        #expect(stdio.targetRun == 1)
        let events = stdio.subscribe()
        let out = Self.pipeEnds()
        let err = Self.pipeEnds()
        let input = Self.pipeEnds()
        stdio.begin(RunDescriptors(stdout: out.read, stderr: err.read, stdin: input.write), tty: false)
        #expect(stdio.isCapturing)
        Self.write(out.write, "one\ntw")
        Self.write(err.write, "bad\n")
        // stdin reaches the container's end, and StdinOnce closes it: EOF there.
        let fd = try #require(await stdio.input(forRun: 1))
        Self.write(fd, "typed")
        close(fd)
        stdio.closeInput(ofRun: 1)
        var received = [UInt8](repeating: 0, count: 16)
        let count = received.withUnsafeMutableBytes { read(input.read, $0.baseAddress, $0.count) }
        #expect(Array(received[0..<max(count, 0)]) == Array("typed".utf8))
        #expect(received.withUnsafeMutableBytes { read(input.read, $0.baseAddress, $0.count) } == 0)
        close(input.read)
        try await Task.sleep(for: .milliseconds(100))
        Self.write(out.write, "o\n")
        close(out.write)
        close(err.write)
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var ended = false
        for await event in events {
            switch event {
            case .output(.stderr, let bytes): stderr += bytes
            case .output(_, let bytes): stdout += bytes
            case .ended: ended = true
            }
        }
        #expect(ended && !stdio.isCapturing)
        #expect(String(decoding: stdout, as: UTF8.self) == "one\ntwo\n")
        #expect(String(decoding: stderr, as: UTF8.self) == "bad\n")
        var reader = try #require(LogFileReader(directory: directory, id: "c1"))
        defer { reader.close() }
        let entries = reader.readAvailable()
        #expect(entries.filter { $0.stream == .stdout }.map { String(decoding: $0.bytes, as: UTF8.self) } == ["one\n", "two\n"])
        #expect(entries.filter { $0.stream == .stderr }.map { String(decoding: $0.bytes, as: UTF8.self) } == ["bad\n"])
        #expect(entries.allSatisfy { $0.time != nil })
    }

    @Test func removingAContainerEndsClientsWaitingForARun() async {
        let table = StdioTable()
        let events = table.of("c2", directory: NSTemporaryDirectory()).subscribe()
        table.forget("c2")
        #expect(table.existing("c2") == nil)
        var sawEnd = false
        for await event in events { if case .ended = event { sawEnd = true } }
        #expect(sawEnd)
    }
}

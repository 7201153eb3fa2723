import ContainerRuntime
import Dispatch
import Foundation
import HTTPUnix

/// Reads a descriptor until EOF, or EIO from a
/// pty master whose terminal every process has closed, then closes it. It reads to the end
/// even when nobody listens any more, so the writer never blocks on a full pipe or terminal.
enum DescriptorPump {
    static func chunks(_ fd: Int32) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        // A thread of its own: see ContainerStdio.begin for why not a dispatch source.
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    continuation.yield(Array(buffer[0..<count]))
                    continue
                }
                if count < 0, errno == EINTR { continue }
                break
            }
            close(fd)
            continuation.finish()
        }
        thread.stackSize = 256 * 1024
        thread.start()
        return stream
    }
}

/// Client input to a process's stdin (a pipe or a terminal): detach keys end it early.
enum InputForwarder {
    enum Ending: Sendable { case endOfInput, detached, failed }

    /// Forwards until the client's input ends; `fd` is written, never closed here.
    static func forward(_ input: RawInput, to fd: Int32, detachKeys: [UInt8]) async -> Ending {
        var scanner = DetachKeyScanner(keys: detachKeys)
        var writable = true
        do {
            for try await chunk in input {
                let (forward, detach) = scanner.feed(chunk)
                if writable, !forward.isEmpty, !(await writeAll(fd, forward)) {
                    writable = false  // the process stopped reading: the rest is dropped
                }
                if detach { return .detached }
            }
            return .endOfInput
        } catch {
            return .failed
        }
    }
}

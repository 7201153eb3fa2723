import ContainerRuntime
import Dispatch
import Foundation
import HTTPUnix

/// Reads a descriptor on a dispatch queue (no thread of its own) until EOF, or EIO from a
/// pty master whose terminal every process has closed, then closes it. It reads to the end
/// even when nobody listens any more, so the writer never blocks on a full pipe or terminal.
enum DescriptorPump {
    private static let queue = DispatchQueue(label: "berth.pump", attributes: .concurrent)

    static func chunks(_ fd: Int32) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        let box = SourceBox(source)
        source.setEventHandler {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    continuation.yield(Array(buffer[0..<count]))
                    continue
                }
                if count < 0, errno == EINTR { continue }
                if count < 0, errno == EAGAIN { return }
                box.cancel()
                return
            }
        }
        source.setCancelHandler {
            close(fd)
            box.release()
            continuation.finish()
        }
        source.resume()
        return stream
    }
}

/// A read source its own handlers can cancel; released when cancelled, which breaks the
/// source → handler → box cycle. Only touched on the source's queue and by its owner.
final class SourceBox: @unchecked Sendable {
    private var source: (any DispatchSourceRead)?

    init(_ source: any DispatchSourceRead) { self.source = source }

    func cancel() { source?.cancel() }
    func release() { source = nil }
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

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import NIOPosix

/// A request body written to a file as it arrives, so a tarball of any size costs one pass
/// and no memory beyond the chunks in flight. Writes run on NIO's blocking-I/O thread pool,
/// one after the other (the file offset is shared), never on the event loop.
///
/// Used only from the connection's event loop.
final class UploadSpool {
    let path: String
    private let descriptor: CInt
    private let eventLoop: any EventLoop
    /// Completes when every write handed in so far is on disk (in the page cache).
    private var lastWrite: EventLoopFuture<Void>
    private var closed = false
    /// Writes handed to the thread pool and not finished; the connection stops reading while
    /// this is high, so a client faster than the disk is held back instead of buffered.
    private(set) var pendingWrites = 0
    private(set) var size = 0

    /// Creates a new file (never an existing one) only the daemon can read.
    init(directory: String, eventLoop: any EventLoop) throws {
        let path = directory + "/upload-" + UUID().uuidString
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw UploadSpoolError(message: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.descriptor = descriptor
        self.eventLoop = eventLoop
        self.lastWrite = eventLoop.makeSucceededVoidFuture()
    }

    /// Queues `chunk` behind the earlier writes; `drained` runs on the event loop when no write
    /// is pending any more.
    func append(_ chunk: ByteBuffer, drained: @escaping () -> Void) {
        let (newSize, overflow) = size.addingReportingOverflow(chunk.readableBytes)
        size = overflow ? Int.max : newSize
        pendingWrites += 1
        let descriptor = self.descriptor
        let loop = eventLoop
        let previous = lastWrite
        lastWrite = previous.flatMap {
            NIOThreadPool.singleton.runIfActive(eventLoop: loop) { try writeAll(descriptor, chunk) }
        }
        lastWrite.assumeIsolated().whenComplete { _ in
            self.pendingWrites -= 1
            if self.pendingWrites == 0 { drained() }
        }
    }

    /// Completes once everything is written and the file is closed; the file stays for the handler.
    func finish() -> EventLoopFuture<Void> {
        lastWrite.assumeIsolated().always { _ in self.closeDescriptor() }.nonisolated()
    }

    /// Drops the upload: the file goes once the writes in flight are done.
    func discard() {
        let path = self.path
        lastWrite.assumeIsolated().whenComplete { _ in
            self.closeDescriptor()
            unlink(path)
        }
    }

    private func closeDescriptor() {
        guard !closed else { return }
        closed = true
        close(descriptor)
    }
}

struct UploadSpoolError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// write(2) until the whole buffer is out (short writes happen on full disks and signals).
private func writeAll(_ descriptor: CInt, _ chunk: ByteBuffer) throws {
    try chunk.withUnsafeReadableBytes { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw UploadSpoolError(message: "writing the upload: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }
}

import Foundation
import NIOCore
import NIOHTTP1

/// Writes the body of a streaming (chunked) response. Each write returns once the bytes are
/// handed to the socket, so a slow client slows the producer down instead of growing a buffer.
/// Writes throw once the client has gone away; the producing task is also cancelled then.
public struct StreamWriter: Sendable {
    let channel: any Channel

    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }  // an empty chunk would end a chunked body
        let buffer = channel.allocator.buffer(bytes: bytes)
        try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer))).get()
    }

    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }

    /// Writes one JSON document followed by a newline, the framing of Docker's event and progress streams.
    public func writeJSON<T: Encodable>(_ value: T) async throws {
        var bytes = [UInt8](try JSONCoding.encoder.encode(value))
        bytes.append(UInt8(ascii: "\n"))
        try await write(bytes)
    }
}

/// The raw connection after a hijack. Output is written with `write`; what the client sends
/// (stdin for exec/attach) arrives on `input`. The server closes the connection when the
/// hijack closure returns.
public struct RawStreamWriter: Sendable {
    let channel: any Channel
    /// Bytes the client sends after the hijack, ending when it closes or half-closes its side.
    public let input: RawInput

    /// Writes bytes as they are (for TTY sessions, which are not multiplexed).
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }

    /// Writes one multiplexed frame: 8-byte header then the payload. Each frame is a single
    /// socket write, so stdout and stderr pumps may call this concurrently.
    public func write(_ stream: RawStream.Kind, _ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        var buffer = channel.allocator.buffer(capacity: RawStream.headerSize + bytes.count)
        buffer.writeBytes(RawStream.header(stream, length: bytes.count))
        buffer.writeBytes(bytes)
        try await channel.writeAndFlush(buffer).get()
    }

    /// Shuts down the sending side only; the client sees EOF while `input` keeps flowing.
    public func closeWrite() async throws {
        try await channel.close(mode: .output).get()
    }
}

/// An async sequence of byte chunks read from a hijacked connection.
public struct RawInput: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    let stream: NIOAsyncChannelInboundStream<ByteBuffer>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator

        public mutating func next() async throws -> [UInt8]? {
            guard let buffer = try await base.next() else { return nil }
            return Array(buffer.readableBytesView)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator())
    }
}

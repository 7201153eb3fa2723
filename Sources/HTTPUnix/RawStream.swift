/// Docker's multiplexed raw stream (exec, attach, and logs of non-TTY containers):
/// each frame is an 8-byte header `[kind, 0, 0, 0, UInt32 big-endian length]` then the payload.
public enum RawStream {
    public static let contentType = "application/vnd.docker.raw-stream"
    public static let multiplexedContentType = "application/vnd.docker.multiplexed-stream"
    public static let headerSize = 8

    public enum Kind: UInt8, Sendable, Equatable {
        case stdin = 0
        case stdout = 1
        case stderr = 2
        /// Errors from the daemon itself, sent on the stream after output started.
        case systemError = 3
    }

    /// A decoded frame.
    public struct Frame: Sendable, Equatable {
        public var kind: Kind
        public var payload: [UInt8]

        public init(_ kind: Kind, _ payload: [UInt8]) {
            self.kind = kind
            self.payload = payload
        }
    }

    public static func header(_ kind: Kind, length: Int) -> [UInt8] {
        let n = UInt32(truncatingIfNeeded: length)
        return [kind.rawValue, 0, 0, 0, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
    }

    /// One complete frame: header plus payload.
    public static func frame(_ kind: Kind, _ payload: [UInt8]) -> [UInt8] {
        header(kind, length: payload.count) + payload
    }
}

public enum RawStreamError: Error, Equatable, Sendable {
    /// The first byte of a header was not a known stream kind; the stream is probably a TTY one.
    case invalidStreamKind(UInt8)
    /// The stream ended in the middle of a frame.
    case truncatedFrame
}

/// Splits a multiplexed stream into frames, whatever the chunk boundaries are.
/// Feed it each chunk as it arrives; call `finish()` at EOF to detect a cut-off frame.
public struct RawStreamDemultiplexer: Sendable {
    private var pending: [UInt8] = []
    private var start = 0

    public init() {}

    /// Appends `chunk` and returns every frame now complete, in order.
    public mutating func feed(_ chunk: some Sequence<UInt8>) throws -> [RawStream.Frame] {
        pending.append(contentsOf: chunk)
        var frames: [RawStream.Frame] = []
        while pending.count - start >= RawStream.headerSize {
            let h = start
            guard let kind = RawStream.Kind(rawValue: pending[h]) else {
                throw RawStreamError.invalidStreamKind(pending[h])
            }
            let length =
                Int(pending[h + 4]) << 24 | Int(pending[h + 5]) << 16 | Int(pending[h + 6]) << 8 | Int(pending[h + 7])
            let payloadStart = h + RawStream.headerSize
            guard pending.count - payloadStart >= length else { break }
            frames.append(RawStream.Frame(kind, Array(pending[payloadStart..<payloadStart + length])))
            start = payloadStart + length
        }
        // Compact once consumed bytes dominate, so memory stays bounded by one frame.
        if start > 0 && start * 2 >= pending.count {
            pending.removeFirst(start)
            start = 0
        }
        return frames
    }

    /// Throws if the stream ended inside a frame.
    public func finish() throws {
        if pending.count > start {
            throw RawStreamError.truncatedFrame
        }
    }

    /// Demultiplexes a complete buffer into concatenated (stdout, stderr) bytes.
    public static func split(_ bytes: [UInt8]) throws -> (stdout: [UInt8], stderr: [UInt8]) {
        var demux = RawStreamDemultiplexer()
        var out: [UInt8] = []
        var err: [UInt8] = []
        for frame in try demux.feed(bytes) {
            switch frame.kind {
            case .stdout, .stdin: out += frame.payload
            case .stderr, .systemError: err += frame.payload
            }
        }
        try demux.finish()
        return (out, err)
    }
}

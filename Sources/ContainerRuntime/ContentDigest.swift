import BerthCore
import Crypto
import Foundation
import Glibc

/// SHA-256 content digests as Docker writes them (lowercase hex), from swift-crypto.
enum ContentDigest {
    /// Bytes read per step when hashing a file: files may be image tarballs of gigabytes,
    /// so they are streamed, never read whole.
    static let fileChunkSize = 1 << 20

    static func hex(of data: some DataProtocol) -> String {
        hex(SHA256.hash(data: data))
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { byte in
            let text = String(byte, radix: 16)
            return byte < 0x10 ? "0" + text : text
        }.joined()
    }

    /// The digest of a file's contents, read `chunkSize` bytes at a time.
    static func hex(ofFile path: String, chunkSize: Int = fileChunkSize) throws(BerthError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BerthError(.notFound, "cannot open \(path) to hash it: \(errnoText(errno))") }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunkSize, 1), alignment: 16)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw BerthError(.internal, "cannot read \(path) to hash it: \(errnoText(errno))")
            }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer.prefix(count)))
        }
        return hex(hasher.finalize())
    }
}

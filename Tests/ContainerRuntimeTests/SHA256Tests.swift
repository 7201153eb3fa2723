import BerthCore
import Foundation
import Testing
@testable import ContainerRuntime

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(ContentDigest.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ContentDigest.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ContentDigest.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(ContentDigest.hex(of: Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func fileDigestIsTheSameWhateverTheChunkSize() throws {
        let dir = try TemporaryDirectory("sha")
        defer { dir.cleanup() }
        let path = "\(dir.path)/blob"
        let data = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try data.write(to: URL(fileURLWithPath: path))
        let whole = ContentDigest.hex(of: data)
        // Chunk edges at, before and after SHA-256's 64-byte blocks, and one chunk for all.
        for chunkSize in [1, 55, 63, 64, 65, 128, 999, 1000, 4096] {
            #expect(try ContentDigest.hex(ofFile: path, chunkSize: chunkSize) == whole, "chunks of \(chunkSize)")
        }
    }

    @Test func fileDigestMatchesSha256sum() throws {
        let dir = try TemporaryDirectory("sha")
        defer { dir.cleanup() }
        let path = "\(dir.path)/blob"
        // Larger than one chunk, and not a whole number of them.
        let size = ContentDigest.fileChunkSize * 2 + 12_345
        try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }).write(to: URL(fileURLWithPath: path))
        let (status, output) = try shell("/usr/bin/sha256sum", [path])
        #expect(status == 0)
        #expect(try ContentDigest.hex(ofFile: path) == String(output.prefix(64)))
    }

    @Test func aMissingFileIsNotFound() {
        #expect(throws: BerthError.self) { _ = try ContentDigest.hex(ofFile: "/nonexistent/berth-sha-test") }
        do {
            _ = try ContentDigest.hex(ofFile: "/nonexistent/berth-sha-test")
        } catch {
            #expect(error.code == .notFound)
        }
    }
}

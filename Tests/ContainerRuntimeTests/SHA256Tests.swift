import Foundation
import Testing
@testable import ContainerRuntime

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(of: Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func chunkedUpdatesMatchOneShot() {
        let data = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        for split in [0, 1, 55, 56, 63, 64, 65, 128, 999] {
            var hasher = SHA256()
            hasher.update(data.prefix(split))
            hasher.update(Array(data.dropFirst(split)))
            #expect(SHA256.hexString(hasher.finalize()) == SHA256.hex(of: data), "split at \(split)")
        }
    }

    @Test func fileDigestMatchesSha256sum() throws {
        let dir = try TemporaryDirectory("sha")
        defer { dir.cleanup() }
        let path = "\(dir.path)/blob"
        try Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }).write(to: URL(fileURLWithPath: path))
        let (status, output) = try shell("/usr/bin/sha256sum", [path])
        #expect(status == 0)
        #expect(try SHA256.hex(ofFile: path) == String(output.prefix(64)))
    }
}

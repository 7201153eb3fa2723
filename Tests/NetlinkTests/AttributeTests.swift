import Netlink
import Testing

@Suite struct AttributeTests {
    @Test func nestedRoundTrip() throws {
        var writer = AttributeWriter()
        writer.append(3, string: "abc")
        writer.nest(18) { info in
            info.append(1, string: "veth")
            info.nest(2) { $0.append(7, uint8: 1) }
        }
        writer.append(4, uint32: 1500)
        writer.append(15, bigEndian16: 4789)
        #expect(writer.bytes.count % 4 == 0)

        let parsed = try Attributes(parsing: writer.bytes[...])
        #expect(parsed.map(\.type) == [3, 18, 4, 15])
        #expect(parsed[type: 3]?.string == "abc")
        #expect(parsed[type: 4]?.uint32 == 1500)
        #expect(parsed[type: 15]?.bigEndian16 == 4789)
        let info = try #require(parsed[type: 18])
        #expect(info.isNested)
        let inner = try info.nested()
        #expect(inner[type: 1]?.string == "veth")
        #expect(try inner[type: 2]?.nested()[type: 7]?.uint8 == 1)
    }

    @Test func lengthBeyondTheBufferIsRejected() {
        // Claims 12 bytes, 8 present.
        #expect(throws: NetlinkParseError.self) { try Attributes(parsing: [0x0c, 0, 1, 0, 1, 2, 3, 4][...]) }
        // Claims less than its own header.
        #expect(throws: NetlinkParseError.self) { try Attributes(parsing: [0x02, 0, 1, 0][...]) }
    }

    @Test func lastAttributeMayOmitPadding() throws {
        // A 5-byte attribute at the very end without its 3 padding bytes.
        let parsed = try Attributes(parsing: [0x05, 0, 7, 0, 9][...])
        #expect(parsed[type: 7]?.uint8 == 9)
    }
}

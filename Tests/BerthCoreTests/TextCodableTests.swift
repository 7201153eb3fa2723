import BerthCore
import Foundation
import Testing

@Suite struct TextCodableTests {
    struct Holder: Codable, Equatable {
        var address: IPv4Address
        var address6: IPv6Address?
        var subnet: IPv4Network
        var subnet6: IPv6Network?
        var mac: MACAddress
        var any: IPAddress
    }

    @Test func encodesAsText() throws {
        let holder = Holder(
            address: try #require(IPv4Address("10.0.0.2")), address6: IPv6Address("fd00::2"),
            subnet: try #require(IPv4Network("10.0.0.0/24")), subnet6: IPv6Network("fd00::/64"),
            mac: try #require(MACAddress("02:42:0a:00:00:02")), any: try #require(IPAddress("fd00::1")))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(holder), as: UTF8.self)
        #expect(text == #"{"address":"10.0.0.2","address6":"fd00::2","any":"fd00::1","mac":"02:42:0a:00:00:02","subnet":"10.0.0.0\/24","subnet6":"fd00::\/64"}"#)
        #expect(try JSONDecoder().decode(Holder.self, from: Data(text.utf8)) == holder)
    }

    @Test func refusesBadText() {
        let bad = #"{"address":"10.0.0.300","subnet":"10.0.0.0/24","mac":"02:42:0a:00:00:02","any":"::1"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Holder.self, from: Data(bad.utf8)) }
    }

    @Test func absentOptionalsStayNil() throws {
        let text = #"{"address":"10.0.0.2","subnet":"10.0.0.0/24","mac":"02:42:0a:00:00:02","any":"10.0.0.1"}"#
        let holder = try JSONDecoder().decode(Holder.self, from: Data(text.utf8))
        #expect(holder.address6 == nil && holder.subnet6 == nil)
    }
}

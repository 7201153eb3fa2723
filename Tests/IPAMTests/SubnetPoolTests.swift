import BerthCore
import IPAM
import Testing

@Suite("Subnet pools")
struct OverlaySubnetPoolTests {
    @Test func overlayBlocksSkipWhatIsInUse() throws {
        let base = try #require(SubnetPool.overlayBase)
        let first = try SubnetPool.firstFree(in: base, prefixLength: 24, avoiding: [])
        #expect(first.description == "10.0.0.0/24")
        let used = [try #require(IPv4Network("10.0.0.0/23")), try #require(IPv4Network("10.0.2.128/25"))]
        #expect(try SubnetPool.firstFree(in: base, prefixLength: 24, avoiding: used).description == "10.0.3.0/24")
    }

    @Test func aFullPoolIsExhausted() throws {
        let base = try #require(IPv4Network("10.9.0.0/23"))
        #expect(throws: BerthError.self) {
            try SubnetPool.firstFree(in: base, prefixLength: 24, avoiding: [try #require(IPv4Network("10.0.0.0/8"))])
        }
        #expect(throws: BerthError.self) { try SubnetPool.firstFree(in: base, prefixLength: 16, avoiding: []) }
    }
}

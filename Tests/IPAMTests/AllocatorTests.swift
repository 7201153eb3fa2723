import BerthCore
import IPAM
import Testing

@Suite struct IPv4AllocatorTests {
    func network(_ text: String) throws -> IPv4Network { try #require(IPv4Network(text)) }

    @Test func handsOutInOrderSkippingReserved() throws {
        var allocator = try IPv4AddressAllocator(subnet: network("172.17.0.0/16"), reserved: [IPv4Address(172, 17, 0, 1)])
        #expect(try allocator.allocate().description == "172.17.0.2")
        #expect(try allocator.allocate().description == "172.17.0.3")
        #expect(allocator.allocatedCount == 2)
    }

    @Test func releasedAddressIsNotReusedImmediately() throws {
        var allocator = try IPv4AddressAllocator(subnet: network("10.0.0.0/24"), reserved: [IPv4Address(10, 0, 0, 1)])
        let first = try allocator.allocate()
        _ = try allocator.allocate()
        allocator.release(first)
        #expect(try allocator.allocate().description == "10.0.0.4")
    }

    @Test func exhaustsAndWraps() throws {
        var allocator = try IPv4AddressAllocator(subnet: network("10.0.0.0/29"), reserved: [IPv4Address(10, 0, 0, 1)])
        var given: [String] = []
        for _ in 0..<5 { given.append(try allocator.allocate().description) }
        #expect(given == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"])
        #expect(throws: BerthError.self) { try allocator.allocate() }
        allocator.release(IPv4Address(10, 0, 0, 3))
        #expect(try allocator.allocate().description == "10.0.0.3")
    }

    @Test func staticAddresses() throws {
        var allocator = try IPv4AddressAllocator(subnet: network("10.0.0.0/24"), reserved: [IPv4Address(10, 0, 0, 1)])
        try allocator.allocate(IPv4Address(10, 0, 0, 50))
        #expect(throws: BerthError.self) { try allocator.allocate(IPv4Address(10, 0, 0, 50)) }
        #expect(throws: BerthError.self) { try allocator.allocate(IPv4Address(10, 0, 0, 1)) }
        #expect(throws: BerthError.self) { try allocator.allocate(IPv4Address(10, 0, 1, 5)) }
        #expect(throws: BerthError.self) { try allocator.allocate(IPv4Address(10, 0, 0, 255)) }
    }

    @Test func ipRangeLimitsDynamicAllocation() throws {
        var allocator = try IPv4AddressAllocator(subnet: network("10.0.0.0/16"), range: network("10.0.5.0/30"))
        #expect(try allocator.allocate().description == "10.0.5.0")
        #expect(try allocator.allocate().description == "10.0.5.1")
        #expect(try allocator.allocate().description == "10.0.5.2")
        #expect(try allocator.allocate().description == "10.0.5.3")
        #expect(throws: BerthError.self) { try allocator.allocate() }
    }

    @Test func fillsALargeSubnetCompletely() throws {
        var allocator = try IPv4AddressAllocator(subnet: network("10.0.0.0/22"), reserved: [IPv4Address(10, 0, 0, 1)])
        var seen = Set<IPv4Address>()
        for _ in 0..<(1024 - 3) { #expect(seen.insert(try allocator.allocate()).inserted) }
        #expect(throws: BerthError.self) { try allocator.allocate() }
    }

    @Test func rejectsBadSubnets() throws {
        #expect(throws: BerthError.self) { try IPv4AddressAllocator(subnet: network("10.0.0.0/31")) }
        #expect(throws: BerthError.self) { try IPv4AddressAllocator(subnet: network("10.0.0.0/24"), range: network("10.0.1.0/28")) }
    }
}

@Suite struct IPv6AllocatorTests {
    @Test func allocatesAndRejectsDuplicates() throws {
        let subnet = try #require(IPv6Network("fd00:1::/64"))
        var allocator = try IPv6AddressAllocator(subnet: subnet, reserved: [try #require(IPv6Address("fd00:1::1"))])
        #expect(try allocator.allocate().description == "fd00:1::2")
        #expect(try allocator.allocate().description == "fd00:1::3")
        #expect(throws: BerthError.self) { try allocator.allocate(try #require(IPv6Address("fd00:1::2"))) }
        #expect(throws: BerthError.self) { try allocator.allocate(try #require(IPv6Address("fd00:2::2"))) }
    }
}

@Suite struct SubnetPoolTests {
    @Test func picksFirstFreeDockerPool() throws {
        let pool = SubnetPool.dockerDefault
        #expect(try pool.pick(avoiding: []).description == "172.17.0.0/16")
        let used = [try #require(IPv4Network("172.17.0.1/16")), try #require(IPv4Network("172.18.5.0/24"))]
        #expect(try pool.pick(avoiding: used).description == "172.19.0.0/16")
        #expect(try pool.pick(avoiding: [try #require(IPv4Network("172.16.0.0/12"))]).description == "192.168.0.0/20")
        #expect(throws: BerthError.self) { try pool.pick(avoiding: [try #require(IPv4Network("128.0.0.0/1"))]) }
    }
}

import BerthCore
import IPAM
import Testing

/// The message of the error `body` throws, or nil when it throws none.
private func refusal(_ body: () throws -> Void) -> BerthError? {
    do {
        try body()
        return nil
    } catch {
        return (error as? BerthError) ?? BerthError(.internal, "not a BerthError: \(error)")
    }
}

@Suite("Address validation")
struct AddressValidationTests {
    @Test(arguments: [
        ("255.255.255.255/32", "too small"), ("10.0.0.0/31", "too small"), ("10.0.0.0/32", "too small"),
        ("0.0.0.0/0", "too large"), ("10.0.0.0/7", "too large"), ("0.0.0.0/30", "unspecified"),
        ("0.0.0.0/8", "unspecified"), ("127.0.0.0/8", "loopback"), ("127.255.255.252/30", "loopback"),
        ("169.254.0.0/16", "link-local"), ("224.0.0.0/24", "multicast"), ("239.255.255.252/30", "multicast"),
        ("240.0.0.0/24", "reserved"), ("255.255.255.0/24", "reserved"), ("255.255.255.252/30", "reserved"),
        ("10.0.0.1/24", "host bits"), ("10.0.0.0/33", "not an IPv4 CIDR"), ("banana", "not an IPv4 CIDR"),
    ])
    func badIPv4Subnets(text: String, reason: String) throws {
        let error = try #require(refusal { _ = try AddressValidation.subnet4(text) })
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("subnet") && error.message.contains(reason), "\(error.message)")
        #expect(!error.message.contains("\n"))
    }

    @Test(arguments: ["10.0.0.0/8", "10.0.0.0/30", "172.17.0.0/16", "223.255.255.252/30", "1.0.0.0/8"])
    func goodIPv4Subnets(text: String) throws {
        let subnet = try AddressValidation.subnet4(text)
        let gateway = try AddressValidation.firstHost(of: subnet)
        #expect(subnet.contains(gateway) && gateway != subnet.networkAddress && gateway != subnet.broadcast)
    }

    @Test(arguments: [
        ("::/0", "unspecified"), ("::/128", "unspecified"), ("::1/128", "loopback"), ("ff00::/8", "multicast"),
        ("ffff::/16", "multicast"), ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124", "multicast"),
        ("fe80::/64", "link-local"), ("::ffff:0:0/96", "IPv4-mapped"), ("fd00::/125", "too small"),
        ("fd00::/127", "too small"), ("fd00::/128", "too small"), ("fd00::1/64", "host bits"), ("fd00::/129", "not an IPv6 CIDR"),
    ])
    func badIPv6Subnets(text: String, reason: String) throws {
        let error = try #require(refusal { _ = try AddressValidation.subnet6(text) })
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains(reason), "\(error.message)")
    }

    @Test(arguments: ["fd00::/64", "fd00::/124", "2001:db8::/32", "fd00:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124"])
    func goodIPv6Subnets(text: String) throws {
        let subnet = try AddressValidation.subnet6(text)
        let gateway = try AddressValidation.firstHost(of: subnet)
        #expect(subnet.contains(gateway) && gateway != subnet.networkAddress)
    }

    @Test func addressArithmeticStopsAtTheEndsInsteadOfTrapping() throws {
        #expect(IPv4Address(255, 255, 255, 255).advanced(by: 1) == nil)
        #expect(IPv4Address(0, 0, 0, 0).advanced(by: UInt32.max) == IPv4Address(255, 255, 255, 255))
        #expect(IPv4Address(255, 255, 255, 254).advanced(by: 1) == IPv4Address(255, 255, 255, 255))
        let top = try #require(IPv6Address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        #expect(top.advanced(by: 1) == nil)
        #expect(IPv6Address(high: 0, low: .max).advanced(by: 1) == IPv6Address(high: 1, low: 0))
        #expect(IPv6Address(high: 0, low: 0).advanced(by: 1) == IPv6Address(high: 0, low: 1))
        // Subnets that never pass validation still give an error, not a crash.
        let last = try #require(IPv4Network("255.255.255.255/32"))
        #expect(refusal { _ = try AddressValidation.firstHost(of: last) } != nil)
        let single = try #require(IPv6Network("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"))
        #expect(refusal { _ = try AddressValidation.firstHost(of: single) } != nil)
        let whole = try #require(IPv4Network("0.0.0.0/0"))
        #expect(try AddressValidation.firstHost(of: whole) == IPv4Address(0, 0, 0, 1))
    }

    @Test func gatewaysRangesAndAuxiliaryAddresses() throws {
        let subnet = try AddressValidation.subnet4("10.65.0.0/24")
        #expect(try AddressValidation.gateway4("10.65.0.254", in: subnet) == IPv4Address(10, 65, 0, 254))
        for (text, reason) in [("10.66.0.1", "not in subnet"), ("10.65.0.0", "network address"),
                               ("10.65.0.255", "broadcast"), ("banana", "not an IPv4 address")] {
            let error = try #require(refusal { _ = try AddressValidation.gateway4(text, in: subnet) })
            #expect(error.message.contains("gateway") && error.message.contains(reason), "\(error.message)")
        }
        #expect(try AddressValidation.range4("10.65.0.128/25", in: subnet).description == "10.65.0.128/25")
        #expect(try AddressValidation.range4("10.65.0.0/24", in: subnet).description == "10.65.0.0/24")
        for (text, reason) in [("10.66.0.0/25", "not inside"), ("10.65.0.0/23", "not inside"),
                               ("10.65.0.255/32", "no usable"), ("10.65.0.0/32", "no usable"), ("10.65.0.1/25", "host bits")] {
            let error = try #require(refusal { _ = try AddressValidation.range4(text, in: subnet) })
            #expect(error.message.contains("ip-range") && error.message.contains(reason), "\(error.message)")
        }
        let error = try #require(refusal { _ = try AddressValidation.auxiliary4(name: "r", value: "10.65.0.255", in: subnet) })
        #expect(error.message.contains("aux-address") && error.message.contains("broadcast"))
        let subnet6 = try AddressValidation.subnet6("fd00:65::/64")
        let networkAddress = try #require(refusal { _ = try AddressValidation.gateway6("fd00:65::", in: subnet6) })
        #expect(networkAddress.message.contains("network address"))
    }

    @Test func staticAddresses() throws {
        let subnet = try AddressValidation.subnet4("10.68.0.0/24")
        let gateway = IPv4Address(10, 68, 0, 1)
        #expect(try AddressValidation.staticAddress4("10.68.0.9", subnet: subnet, gateway: gateway, userSubnet: true)
                == IPv4Address(10, 68, 0, 9))
        let automatic = try #require(refusal {
            _ = try AddressValidation.staticAddress4("10.68.0.9", subnet: subnet, gateway: gateway, userSubnet: false)
        })
        #expect(automatic.message == AddressValidation.userSubnetRequired)
        for (text, reason) in [("10.68.0.0", "network address"), ("10.68.0.255", "broadcast"), ("10.68.0.1", "gateway"),
                               ("10.69.0.1", "does not belong"), ("x", "not an IPv4 address")] {
            let error = try #require(refusal {
                _ = try AddressValidation.staticAddress4(text, subnet: subnet, gateway: gateway, userSubnet: true)
            })
            #expect(error.code == .invalidArgument && error.message.contains(reason), "\(error.message)")
        }
        let subnet6 = try AddressValidation.subnet6("fd00:68::/64")
        for text in ["fd00:68::", "fd00:68::1", "fd00:69::5"] {
            #expect(refusal {
                _ = try AddressValidation.staticAddress6(text, subnet: subnet6, gateway: IPv6Address("fd00:68::1"),
                                                         userSubnet: true, network: "n")
            } != nil)
        }
    }

    @Test func bridgeIPs() throws {
        #expect(try AddressValidation.bridgeIP("172.17.0.1/16").description == "172.17.0.1/16")
        for (text, reason) in [("10.89.0.0/24", "network address"), ("10.89.0.255/24", "broadcast"),
                               ("127.0.0.1/8", "loopback"), ("255.255.255.254/31", "too small"), ("224.0.0.1/24", "multicast"),
                               ("10.0.0.1", "not a gateway address")] {
            let error = try #require(refusal { _ = try AddressValidation.bridgeIP(text) })
            #expect(error.message.contains("--bip") && error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func overlapsNameWhoHoldsThePrefix() throws {
        let uplink = try #require(IPv4Network("198.51.100.7/24"))
        let route6 = try #require(IPv6Network("fd00:99::/64"))
        let inUse = [PrefixInUse(prefix: .v4(uplink), kind: "address", owner: "host interface uplink0"),
                     PrefixInUse(prefix: .v6(route6), kind: "route", owner: "host interface uplink0")]
        let error = try #require(refusal {
            try AddressValidation.checkFree(.v4(try AddressValidation.subnet4("198.51.100.0/25")), inUse: inUse)
        })
        #expect(error.code == .conflict && error.message.contains("uplink0") && error.message.contains("198.51.100.7/24"))
        #expect(refusal { try AddressValidation.checkFree(.v6(try AddressValidation.subnet6("fd00:99::/48")), inUse: inUse) } != nil)
        #expect(refusal { try AddressValidation.checkFree(.v4(try AddressValidation.subnet4("198.51.101.0/24")), inUse: inUse) } == nil)
        #expect(refusal { try AddressValidation.checkFree(.v6(try AddressValidation.subnet6("fd00:98::/64")), inUse: inUse) } == nil)
    }
}

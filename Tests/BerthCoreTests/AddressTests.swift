import BerthCore
import Testing

@Suite struct IPv4Tests {
    @Test func parsesAndPrints() throws {
        let address = try #require(IPv4Address("172.17.0.2"))
        #expect(address.value == 0xAC11_0002)
        #expect(address.description == "172.17.0.2")
        #expect(address.bytes == [172, 17, 0, 2])
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "a.b.c.d", "1..2.3", " 1.2.3.4", "1.2.3.-4"])
    func rejectsMalformed(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test func networkArithmetic() throws {
        let network = try #require(IPv4Network("172.17.0.1/16"))
        #expect(network.networkAddress.description == "172.17.0.0")
        #expect(network.broadcast.description == "172.17.255.255")
        #expect(!network.isCanonical)
        #expect(network.canonical.description == "172.17.0.0/16")
        #expect(network.contains(IPv4Address(172, 17, 200, 3)))
        #expect(!network.contains(IPv4Address(172, 18, 0, 1)))
        #expect(network.size == 65536)
    }

    @Test func overlaps() throws {
        let a = try #require(IPv4Network("10.0.0.0/8"))
        let b = try #require(IPv4Network("10.1.0.0/16"))
        let c = try #require(IPv4Network("192.168.0.0/16"))
        #expect(a.overlaps(b) && b.overlaps(a))
        #expect(!a.overlaps(c))
        #expect(try #require(IPv4Network("0.0.0.0/0")).overlaps(c))
    }

    @Test(arguments: ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "10.0.0.0/-1", "10.0.0.0/8/8"])
    func rejectsMalformedNetworks(_ text: String) {
        #expect(IPv4Network(text) == nil)
    }
}

@Suite struct IPv6Tests {
    @Test(arguments: [
        ("fd00::1", "fd00::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::", "::"),
        ("::1", "::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("::ffff:1.2.3.4", "::ffff:102:304"),
    ])
    func canonicalText(_ input: String, _ expected: String) throws {
        #expect(try #require(IPv6Address(input)).description == expected)
    }

    @Test(arguments: ["", ":::", "1::2::3", "12345::", "g::1", "1:2:3:4:5:6:7:8:9", "1.2.3.4"])
    func rejectsMalformed(_ text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func bytesRoundTrip() throws {
        let address = try #require(IPv6Address("fd00:1:2::abcd"))
        #expect(IPv6Address(bytes: address.bytes) == address)
        #expect(address.bytes.count == 16)
    }

    @Test func prefixes() throws {
        let network = try #require(IPv6Network("fd00:1::/64"))
        #expect(network.contains(try #require(IPv6Address("fd00:1::5"))))
        #expect(!network.contains(try #require(IPv6Address("fd00:2::5"))))
        #expect(network.overlaps(try #require(IPv6Network("fd00::/16"))))
        #expect(!(try #require(IPv6Network("fd00:1::1/64"))).isCanonical)
    }
}

@Suite struct MACTests {
    @Test func parsesAndDerives() throws {
        let mac = try #require(MACAddress("02:42:AC:11:00:02"))
        #expect(mac.description == "02:42:ac:11:00:02")
        #expect(MACAddress(derivedFrom: IPv4Address(172, 17, 0, 2)) == mac)
        #expect(mac.isUnicast)
        #expect(MACAddress("01:00:5e:00:00:01")?.isUnicast == false)
        #expect(MACAddress("02:42:ac:11:00") == nil)
        #expect(MACAddress("zz:42:ac:11:00:02") == nil)
    }

    @Test func errorStatus() {
        #expect(BerthError.notFound("x").httpStatus == 404)
        #expect(BerthError.invalid("x").httpStatus == 400)
        #expect(BerthError.conflict("x").httpStatus == 409)
        #expect(BerthError(.forbidden, "x").httpStatus == 403)
        #expect(BerthError(.kernel, "x").httpStatus == 500)
    }
}

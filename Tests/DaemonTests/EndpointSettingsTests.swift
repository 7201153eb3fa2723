import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// `NetworkSettings.Networks` entries as the Engine API 1.47 spec has them.
@Suite struct EndpointSettingsTests {
    @Test func ipamConfigAndDriverOptsComeBackAsSent() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1", subnet: "10.40.0.0/24")
            var settings = EndpointSettings(IPAMConfig: .init(IPv4Address: "10.40.0.9", LinkLocalIPs: []), Aliases: ["al", "c1"])
            settings.DriverOpts = [:]
            let id = try await daemon.create("c1", network: "n1", extraNetworks: ["n1": settings])
            let created = try #require(try await daemon.inspect(id).NetworkSettings.Networks["n1"])
            #expect(created.IPAMConfig == .init(IPv4Address: "10.40.0.9", LinkLocalIPs: []))
            #expect(created.DriverOpts == [:])
            #expect(created.DNSNames == nil)
            try await daemon.controller.startContainer(id)
            let running = try #require(try await daemon.inspect(id).NetworkSettings.Networks["n1"])
            #expect(running.IPAddress == "10.40.0.9")
            #expect(running.DriverOpts == [:])
            #expect(running.DNSNames == ["c1", "al", String(id.prefix(12))])
        }
    }

    @Test func settingsBerthWouldNotHonourAreRefused() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1")
            let linkLocal = EndpointSettings(IPAMConfig: .init(LinkLocalIPs: ["169.254.1.1"]))
            #expect(await errorCode { try await daemon.create("c1", network: "n1", extraNetworks: ["n1": linkLocal]) } == .invalidArgument)
            var withOption = EndpointSettings()
            withOption.DriverOpts = ["com.example.opt": "1"]
            #expect(await errorCode { try await daemon.create("c2", network: "n1", extraNetworks: ["n1": withOption]) } == .invalidArgument)
            try await daemon.run("c3")
            #expect(await errorCode { try await daemon.controller.connect(network: "n1", container: "c3", settings: withOption) } == .invalidArgument)
            #expect(try daemon.storedContainers().count == 1)
        }
    }

    @Test func aCreatedContainerShowsTheMACItAskedFor() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.create("c1", network: "bridge", mac: "02:42:ac:11:00:99")
            #expect(try await daemon.inspect(id).NetworkSettings.Networks["bridge"]?.MacAddress == "02:42:ac:11:00:99")
        }
    }

    @Test func everySpecKeyIsWrittenNullWhenUnset() throws {
        let data = try JSONEncoder().encode(EndpointSettings())
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let keys: Set<String> = ["IPAMConfig", "Links", "Aliases", "MacAddress", "DriverOpts", "NetworkID", "EndpointID",
                                 "Gateway", "IPAddress", "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address",
                                 "GlobalIPv6PrefixLen", "DNSNames"]
        #expect(Set(object.keys) == keys)
        #expect(object["DriverOpts"] is NSNull)
        #expect(object["IPAMConfig"] is NSNull)
        let settings = NetworkSettings(SandboxID: "", SandboxKey: "", Ports: [:], primary: nil, Networks: [:])
        let top = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(settings)) as? [String: Any])
        #expect(top["SecondaryIPAddresses"] is NSNull)
        #expect(top["SecondaryIPv6Addresses"] is NSNull)
        let ipam = try JSONEncoder().encode(EndpointSettings.IPAMConfig(IPv4Address: "10.0.0.2", IPv6Address: ""))
        #expect(String(decoding: ipam, as: UTF8.self) == #"{"IPv4Address":"10.0.0.2"}"#)
    }
}

import BerthCore
import Foundation
import Testing
@testable import Daemon

/// Records written by berth before its records were typed (main at 6bba813) load as they
/// are, and what is written now reads back the same way.
@Suite struct RecordCompatibilityTests {
    static let runningContainer = #"""
    {"id":"3f2a9c1b7d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd","name":"web","created":"2026-12-01T10:00:00.000Z",
     "imageReference":"busybox","imageID":"sha256:1111","config":{"Image":"busybox","Cmd":["sleep","100"]},"hostConfig":{},
     "networkMode":"bridge","attachments":[{"networkID":"n1","aliases":["www"],"links":[],"requestedIPv4":"10.9.0.7","requestedMAC":"02:42:0a:09:00:07"}],
     "status":"running","pid":4242,"pidStartTime":99,"exitCode":0,"error":"","startedAt":"2026-12-01T10:00:01.000Z",
     "finishedAt":"0001-01-01T00:00:00Z","sandboxPath":"/run/berth/netns/3f2a",
     "endpoints":[{"id":"e1","networkID":"n1","networkName":"front","interfaceName":"eth0","hostInterface":"veth1234567",
       "ipv4":"10.9.0.7","prefixLength":24,"gateway":"10.9.0.1","mac":"02:42:0a:09:00:07","aliases":["www"],"links":[],
       "requestedIPv4":"10.9.0.7","requestedMAC":"02:42:0a:09:00:07"}],
     "publishedPorts":[{"hostPort":8080,"transport":"tcp","containerIP":"10.9.0.7","containerPort":80}]}
    """#

    static let network = #"""
    {"id":"n1","name":"front","driver":"bridge","created":"2026-12-01T09:00:00.000Z","bridgeName":"br-n1",
     "subnet":"10.9.0.0/24","gateway":"10.9.0.1","ipRange":"10.9.0.0/25","auxiliaryAddresses":{"printer":"10.9.0.200"},
     "subnet6":"fd00:9::/64","gateway6":"fd00:9::1","enableIPv6":true,"isInternal":false,"attachable":false,
     "options":{},"labels":{},"predefined":false,"mtu":1500}
    """#

    @Test func runningContainerFromBeforeLoads() throws {
        let record = try JSONDecoder().decode(ContainerRecord.self, from: Data(Self.runningContainer.utf8))
        let live = try #require(record.running)
        #expect(record.status == .running)
        #expect(live.pid == 4242 && live.pidStartTime == 99)
        #expect(record.networkMode == .networks(primary: "bridge"))
        #expect(live.endpoints.first?.ipv4 == IPv4Address("10.9.0.7"))
        #expect(live.endpoints.first?.mac == MACAddress("02:42:0a:09:00:07"))
        #expect(record.attachments.first?.requestedIPv4 == IPv4Address("10.9.0.7"))
        #expect(live.publishedPorts?.first?.hostPort == 8080)
    }

    @Test func containerRoundTripsInTheSameLayout() throws {
        let record = try JSONDecoder().decode(ContainerRecord.self, from: Data(Self.runningContainer.utf8))
        let written = try JSONSerialization.jsonObject(with: JSONEncoder().encode(record)) as? [String: Any]
        let original = try JSONSerialization.jsonObject(with: Data(Self.runningContainer.utf8)) as? [String: Any]
        #expect(Set(written?.keys ?? [:].keys) == Set(original?.keys ?? [:].keys))
        #expect(written?["status"] as? String == "running")
        #expect(written?["networkMode"] as? String == "bridge")
        let again = try JSONDecoder().decode(ContainerRecord.self, from: JSONEncoder().encode(record))
        #expect(again.pid == record.pid && again.endpoints.map(\.ipv4) == record.endpoints.map(\.ipv4))
    }

    @Test func passingStatesAreStoredAsWhereTheyCameFrom() throws {
        var record = try JSONDecoder().decode(ContainerRecord.self, from: Data(Self.runningContainer.utf8))
        let live = try #require(record.running)
        record.state = .stopping(live)
        #expect(try decodeStatus(record) == "running")  // a crash mid-exit: reconciliation finishes it
        record.state = .removing
        #expect(try decodeStatus(record) == "exited")  // a failed rm: listed for another rm
        record.state = .starting
        #expect(try decodeStatus(record) == "exited")  // it ran before: a failed restart leaves it exited
        record.startedAt = ContainerRecord.neverTime
        #expect(try decodeStatus(record) == "created")
    }

    @Test func networkFromBeforeLoads() throws {
        let network = try JSONDecoder().decode(NetworkRecord.self, from: Data(Self.network.utf8))
        #expect(network.subnet == IPv4Network("10.9.0.0/24"))
        #expect(network.ipRange == IPv4Network("10.9.0.0/25"))
        #expect(network.auxiliaryAddresses["printer"] == IPv4Address("10.9.0.200"))
        #expect(network.gateway6 == IPv6Address("fd00:9::1"))
        let again = try JSONSerialization.jsonObject(with: JSONEncoder().encode(network)) as? [String: Any]
        #expect(again?["subnet"] as? String == "10.9.0.0/24")
    }

    @Test func containerModesKeepTheirText() {
        for text in ["bridge", "host", "none", "container:abc", "my-net"] {
            #expect(NetworkMode(text).description == text)
        }
        #expect(NetworkMode("default") == .networks(primary: "bridge"))
        #expect(NetworkMode("") == .networks(primary: "bridge"))
    }

    private func decodeStatus(_ record: ContainerRecord) throws -> String? {
        (try JSONSerialization.jsonObject(with: JSONEncoder().encode(record)) as? [String: Any])?["status"] as? String
    }
}

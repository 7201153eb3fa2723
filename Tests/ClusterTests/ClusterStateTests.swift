import BerthCore
import Foundation
import Testing
@testable import Cluster

@Suite("Cluster keys and state")
struct ClusterStateTests {
    let network = OverlayNetwork(
        id: "n1", name: "ov", subnet: "10.0.0.0/24", gateway: "10.0.0.1", ipRange: nil, vni: 256,
        created: "2026-11-25T00:00:00Z", attachable: false, isInternal: false, options: [:], labels: [:])

    func endpoint(_ address: IPv4Address, node: IPv4Address = "192.0.2.2", container: String = "c1") -> ClusterEndpoint {
        ClusterEndpoint(endpointID: "e-\(address)", networkID: "n1", address: address, mac: "02:42:0a:00:00:02",
                        containerID: container, containerName: container, aliases: [], node: node, nodeID: "node-\(node)")
    }

    func json(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(value))
    }

    @Test func keysParseBack() {
        #expect(ClusterKeys.parse(ClusterKeys.node("192.0.2.1")) == .node(address: "192.0.2.1"))
        #expect(ClusterKeys.parse(ClusterKeys.network("abc")) == .network(id: "abc"))
        #expect(ClusterKeys.parse(ClusterKeys.endpoint(network: "abc", address: "10.0.0.2"))
            == .endpoint(networkID: "abc", address: "10.0.0.2"))
        #expect(ClusterKeys.parse(ClusterKeys.name("ov")) == .other)
        #expect(ClusterKeys.parse(ClusterKeys.vni(256)) == .other)
        #expect(ClusterKeys.parse(ClusterKeys.endpoints + "abc") == .other)
        #expect(ClusterKeys.parse("/elsewhere/x") == .other)
    }

    @Test func putsAndDeletesBecomeChanges() throws {
        var state = ClusterState()
        #expect(state.apply(put: ClusterKeys.network("n1"), value: try json(network), revision: 5) == [.networkAdded(network)])
        // The same value again (a replayed event) changes nothing.
        #expect(state.apply(put: ClusterKeys.network("n1"), value: try json(network), revision: 6).isEmpty)
        let first = endpoint("10.0.0.2")
        #expect(state.apply(put: first.key, value: try json(first), revision: 7) == [.endpointAdded(first)])
        var moved = first
        moved.node = "192.0.2.3"
        #expect(state.apply(put: first.key, value: try json(moved), revision: 8) == [.endpointRemoved(first), .endpointAdded(moved)])
        #expect(state.apply(delete: first.key, revision: 9) == [.endpointRemoved(moved)])
        #expect(state.apply(delete: first.key, revision: 10).isEmpty)
        #expect(state.revision == 10)
        // Garbage and keys that do not match their value are ignored.
        #expect(state.apply(put: ClusterKeys.network("n2"), value: Array("{".utf8), revision: 11).isEmpty)
        #expect(state.apply(put: ClusterKeys.network("n2"), value: try json(network), revision: 12).isEmpty)
        #expect(state.apply(put: ClusterKeys.name("ov"), value: Array("n1".utf8), revision: 13).isEmpty)
    }

    @Test func relistingYieldsTheDifferenceInASafeOrder() throws {
        let kept = endpoint("10.0.0.2")
        let gone = endpoint("10.0.0.3", container: "c2")
        let new = endpoint("10.0.0.4", container: "c3")
        let node = ClusterNode(id: "node-a", address: "192.0.2.2", hostname: "a")
        let old = ClusterState(listing: [
            (ClusterKeys.network("n1"), try json(network)),
            (kept.key, try json(kept)), (gone.key, try json(gone)),
            (ClusterKeys.node(node.address.description), try json(node)),
        ], revision: 10)
        var other = network
        other.id = "n2"
        other.name = "ov2"
        other.vni = 257
        let newer = ClusterState(listing: [
            (ClusterKeys.network("n2"), try json(other)),
            (kept.key, try json(kept)), (new.key, try json(new)),
        ], revision: 20)
        let changes = old.changes(to: newer)
        #expect(changes == [
            .networkAdded(other), .endpointRemoved(gone), .endpointAdded(new), .nodeRemoved(node), .networkRemoved(network),
        ])
        #expect(ClusterState().changes(to: old).first == .networkAdded(network))
        #expect(old.changes(to: old).isEmpty)
    }
}

import BerthCore
@testable import Daemon
import DockerAPI
import Firewall
import Foundation
import Testing

/// Anti-spoofing: which endpoints the firewall guards, and that the guard comes and goes
/// with them and rolls back with a failed start or connect.
@Suite struct AntiSpoofingTests {
    private let optOut = [DriverOptions.antiSpoofing: "false"]

    private func ports(_ daemon: Harness, _ id: String) -> Set<String> {
        Set((daemon.kernel.snapshot.sandboxes[daemon.configuration.netnsDir + "/" + id] ?? []).map(\.hostName))
    }

    @Test func aStartGuardsItsPortWithItsOwnMACAndAddress() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            let guarded = daemon.firewall.snapshot.guarded
            #expect(Set(guarded.keys) == ports(daemon, id))
            let endpoint = try #require(guarded.values.first)
            let settings = try #require(try await daemon.inspect(id).NetworkSettings.Networks["bridge"])
            #expect(endpoint.mac.description == settings.MacAddress)
            #expect(endpoint.ipv4?.description == settings.IPAddress)
            #expect(endpoint.ipv6 == nil)
        }
    }

    @Test func connectAndDisconnectAddAndRemoveTheGuard() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n2", subnet: "10.2.0.0/24")
            let id = try await daemon.run("c1")
            try await daemon.controller.connect(network: "n2", container: id, settings: nil)
            #expect(Set(daemon.firewall.snapshot.guarded.keys) == ports(daemon, id))
            #expect(daemon.firewall.snapshot.guarded.values.contains { $0.ipv4 == IPv4Address(10, 2, 0, 2) })
            try await daemon.controller.disconnect(network: "n2", container: id, force: false)
            #expect(daemon.firewall.snapshot.guarded.count == 1)
            #expect(!daemon.firewall.snapshot.guarded.values.contains { $0.ipv4 == IPv4Address(10, 2, 0, 2) })
        }
    }

    @Test func exitAndRemoveForgetTheGuard() async throws {
        try await withDaemon { daemon in
            let a = try await daemon.run("a")
            let b = try await daemon.run("b")
            #expect(daemon.firewall.snapshot.guarded.count == 2)
            try await daemon.exit(a)
            #expect(Set(daemon.firewall.snapshot.guarded.keys) == ports(daemon, b))
            try await daemon.controller.removeContainer(b, force: true)
            #expect(daemon.firewall.snapshot.guarded.isEmpty)
        }
    }

    @Test func aFailedGuardUndoesTheStart() async throws {
        try await withDaemon { daemon in
            // A /30 has one address for containers: the retry below gets it only if it was freed.
            try await daemon.network("tiny", subnet: "10.9.0.0/30")
            daemon.firewall.fail("guardEndpoints")
            let id = try await daemon.create("c1", network: "tiny")
            #expect(await errorCode { try await daemon.controller.startContainer(id) } == .kernel)
            #expect(try await daemon.status(id) == "created")
            #expect(daemon.kernel.snapshot.sandboxes.isEmpty)
            #expect(daemon.kernel.snapshot.hostPorts.isEmpty)
            #expect(daemon.firewall.snapshot.guarded.isEmpty)
            #expect(daemon.runtime.snapshot.launches.isEmpty)
            // Its address was given back: the next start takes it.
            try await daemon.controller.startContainer(id)
            #expect(try await daemon.address(id) == "10.9.0.2")
            #expect(daemon.firewall.snapshot.guarded.count == 1)
        }
    }

    @Test func aFailedGuardUndoesTheConnect() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n2", subnet: "10.2.0.0/24")
            let id = try await daemon.run("c1")
            daemon.firewall.fail("guardEndpoints")
            #expect(await errorCode { try await daemon.controller.connect(network: "n2", container: id, settings: nil) } == .kernel)
            #expect(daemon.kernel.calls("detach") == 1)
            #expect(try await daemon.inspect(id).NetworkSettings.Networks["n2"] == nil)
            #expect(daemon.firewall.snapshot.guarded.count == 1)
        }
    }

    @Test func anOptOutNetworkGuardsNothing() async throws {
        try await withDaemon { daemon in
            let network = try await daemon.network("open", subnet: "10.3.0.0/24", options: optOut)
            #expect(network.options[DriverOptions.antiSpoofing] == "false")  // kept, so inspect shows it
            _ = try await daemon.run("c1", network: "open")
            #expect(daemon.firewall.snapshot.guarded.isEmpty)
            #expect(daemon.firewall.calls("guardEndpoints") == 0)
        }
    }

    @Test func berthsOptionNamespaceIsReserved() async throws {
        try await withDaemon { daemon in
            for (options, words) in [([DriverOptions.antiSpoofing: "maybe"], "true or false"),
                                     (["berth.network.antispoof": "false"], "berth.network.antispoof is not supported")] {
                do {
                    try await daemon.network("x", subnet: "10.4.0.0/24", options: options)
                    Issue.record("\(options) was accepted")
                } catch let error as BerthError {
                    #expect(error.code == .invalidArgument)
                    #expect(error.message.contains(words))
                }
            }
            // Go's spellings, as Docker's options take.
            try await daemon.network("y", subnet: "10.5.0.0/24", options: [DriverOptions.antiSpoofing: "F"])
            _ = try await daemon.run("c1", network: "y")
            #expect(daemon.firewall.snapshot.guarded.isEmpty)
            // Overlays guard their endpoints too (in the overlay's namespace): both values pass.
            for value in ["true", "false"] {
                try OverlayDriver.validate(
                    NetworkCreateRequest(Name: "ov", Driver: "overlay", Options: [DriverOptions.antiSpoofing: value]), clustered: true)
            }
            #expect(throws: BerthError.self) { try OverlayDriver.validate(
                NetworkCreateRequest(Name: "ov", Driver: "overlay", Options: [DriverOptions.antiSpoofing: "maybe"]), clustered: true) }
        }
    }

    @Test func aRestartedDaemonGuardsTheRunningContainersAgain() async throws {
        let first = try await Harness()
        defer { first.removeDirectory() }
        let id = try await first.run("c1")
        let before = first.firewall.snapshot.guarded
        let second = try await Harness(restarting: first)
        #expect(try await second.status(id) == "running")
        #expect(second.firewall.snapshot.guarded == before)
    }
}

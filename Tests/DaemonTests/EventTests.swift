import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// `Type Action` of each event, the shape sequences are checked in.
private func actions(_ events: [EventMessage]) -> [String] {
    events.map { "\($0.type) \($0.Action)" }
}

private func filtered(_ events: [EventMessage], _ json: String) throws -> [EventMessage] {
    let filter = try EventFilter(try Filters.parse(json))
    return events.filter(filter.matches)
}

/// Docker events emitted by the controller: which, in what order, with which attributes.
@Suite struct EventSequenceTests {
    @Test func aContainersLifeIsCreateConnectStartKillDisconnectDieStopDestroy() async throws {
        try await withDaemon { daemon in
            let request = ContainerCreateRequest(config: ContainerConfig(Cmd: ["sleep", "600"], Image: "busybox",
                                                                         Labels: ["tier": "web"]))
            let id = try await daemon.controller.createContainer(request, name: "web").id
            try await daemon.controller.startContainer(id)
            #expect(try await daemon.controller.stopContainer(id, timeout: 5))
            try await daemon.controller.removeContainer(id, force: false)

            let events = daemon.controller.eventLog.events()
            #expect(actions(events) == [
                "container create", "network connect", "container start", "container kill", "network disconnect",
                "container die", "container stop", "container destroy",
            ])
            let bridge = try await daemon.controller.network("bridge")
            for event in events where event.type == "container" {
                #expect(event.Actor.ID == id)
                #expect(event.Actor.Attributes["name"] == "web")
                #expect(event.Actor.Attributes["image"] == "busybox")
                #expect(event.Actor.Attributes["tier"] == "web")
                #expect(event.status == event.Action && event.id == id && event.from == "busybox")
            }
            for event in events where event.type == "network" {
                #expect(event.Actor.ID == bridge.id)
                #expect(event.Actor.Attributes == ["container": id, "name": "bridge", "type": "bridge"])
                #expect(event.status == nil && event.id == nil)
            }
            #expect(events[3].Actor.Attributes["signal"] == "15")
            #expect(events[5].Actor.Attributes["exitCode"] == "143")
            #expect(events[5].Actor.Attributes["execDuration"] == "0")
            #expect(events.allSatisfy { $0.scope == "local" && $0.time == $0.timeNano / 1_000_000_000 })
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.timeNano <= $1.timeNano })
        }
    }

    @Test func aForcedRemovalKillsWithSignal9AndLogsNoStop() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1", network: "none")
            try await daemon.controller.removeContainer(id, force: true)
            let events = daemon.controller.eventLog.events()
            #expect(actions(events) == [
                "container create", "network connect", "container start", "container kill", "network disconnect",
                "container die", "container destroy",
            ])
            // --network none joins Docker's "none" network, driver "null".
            #expect(events[1].Actor.Attributes["name"] == "none" && events[1].Actor.Attributes["type"] == "null")
            #expect(events[3].Actor.Attributes["signal"] == "9")
            #expect(events[5].Actor.Attributes["exitCode"] == "137")
        }
    }

    @Test func anExitOnItsOwnIsADieWithItsCode() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            try await daemon.exit(id, code: 3)
            let last = try #require(daemon.controller.eventLog.events().last)
            #expect(last.Action == "die" && last.Actor.Attributes["exitCode"] == "3")
        }
    }

    @Test func aFailedStartLogsNothing() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.create("c1")
            daemon.runtime.fail("launch")
            #expect(await errorCode { try await daemon.controller.startContainer(id) } != nil)
            #expect(actions(daemon.controller.eventLog.events()) == ["container create"])
        }
    }

    @Test func networkCreateConnectDisconnectDestroy() async throws {
        try await withDaemon { daemon in
            let network = try await daemon.network("front", subnet: "10.61.0.0/24")
            let id = try await daemon.run("c1")
            try await daemon.controller.connect(network: "front", container: id, settings: nil)
            try await daemon.controller.disconnect(network: "front", container: id, force: false)
            // A stopped container's attachments change without an interface: no event, as Docker.
            try await daemon.exit(id)
            try await daemon.controller.connect(network: "front", container: id, settings: nil)
            try await daemon.controller.disconnect(network: "front", container: id, force: false)
            try await daemon.controller.removeNetwork("front")

            let events = try filtered(daemon.controller.eventLog.events(), #"{"network":["front"]}"#)
            #expect(actions(events) == ["network create", "network connect", "network disconnect", "network destroy"])
            #expect(events.allSatisfy { $0.Actor.ID == network.id && $0.Actor.Attributes["name"] == "front" })
            #expect(events[0].Actor.Attributes == ["name": "front", "type": "bridge"])
            #expect(events[1].Actor.Attributes["container"] == id)
            #expect(events[2].Actor.Attributes["container"] == id)
        }
    }

    @Test func execCreateIsNamedByItsCommandAsDocker() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("c1")
            let exec = try await daemon.controller.createExec(container: id, request: ExecCreateRequest(Cmd: ["ls", "-l", "/"]))
            let bare = try await daemon.controller.createExec(container: id, request: ExecCreateRequest(Cmd: ["sh"]))
            let events = Array(daemon.controller.eventLog.events().suffix(2))
            #expect(events.map(\.Action) == ["exec_create: ls -l /", "exec_create: sh "])
            #expect(events.map { $0.Actor.Attributes["execID"] } == [exec, bare])
            #expect(events.allSatisfy { $0.Actor.ID == id && $0.Actor.Attributes["name"] == "c1" })
        }
    }
}

@Suite struct EventFilterTests {
    /// A bit of everything: two containers (one labelled), two networks, an image.
    private func history() async throws -> [EventMessage] {
        var events: [EventMessage] = []
        try await withDaemon { daemon in
            try await daemon.network("front", subnet: "10.62.0.0/24")
            let request = ContainerCreateRequest(config: ContainerConfig(Cmd: ["sleep", "600"], Image: "busybox:latest",
                                                                         Labels: ["com.example.project": "p1", "role": "db"]))
            let db = try await daemon.controller.createContainer(request, name: "db").id
            try await daemon.controller.startContainer(db)
            let web = try await daemon.run("web")
            try await daemon.controller.connect(network: "front", container: web, settings: nil)
            daemon.controller.emitImage("tag", id: FakeRuntime.busyboxID, name: "busybox:latest")
            events = daemon.controller.eventLog.events()
        }
        return events
    }

    @Test func typeAndEventAreExact() async throws {
        let events = try await history()
        #expect(Set(try filtered(events, #"{"type":["network"]}"#).map(\.type)) == ["network"])
        #expect(actions(try filtered(events, #"{"type":["container"],"event":["start","create"]}"#)) ==
            ["container create", "container start", "container create", "container start"])
        #expect(try filtered(events, #"{"event":["star"]}"#).isEmpty)
        #expect(try filtered(events, #"{"type":["daemon"]}"#).isEmpty)
    }

    @Test func containerMatchesANameOrAnIDPrefix() async throws {
        let events = try await history()
        let byName = try filtered(events, #"{"container":["db"]}"#)
        #expect(actions(byName) == ["container create", "container start"])
        let id = try #require(byName.first?.Actor.ID)
        #expect(try filtered(events, "{\"container\":[\"\(id.prefix(12))\"]}") == byName)
        #expect(try filtered(events, #"{"container":["nothing"]}"#).isEmpty)
    }

    @Test func labelTermsAllHoldOnTheAttributes() async throws {
        let events = try await history()
        #expect(actions(try filtered(events, #"{"label":["com.example.project=p1","role"]}"#)) ==
            ["container create", "container start"])
        #expect(try filtered(events, #"{"label":["com.example.project=p1","role=web"]}"#).isEmpty)
    }

    @Test func networkMatchesItsNameAndImageItsRepository() async throws {
        let events = try await history()
        #expect(actions(try filtered(events, #"{"network":["front"]}"#)) == ["network create", "network connect"])
        let byImage = try filtered(events, #"{"image":["busybox"]}"#)
        #expect(actions(byImage) == ["container create", "container start", "container create", "container start", "image tag"])
        #expect(try filtered(events, #"{"scope":["swarm"]}"#).isEmpty)
        #expect(try filtered(events, #"{"scope":["local"]}"#).count == events.count)
    }

    @Test func unknownKeysAndValuesAreRefused() throws {
        for json in [#"{"name":["x"]}"#, #"{"type":["box"]}"#, #"{"scope":["global"]}"#, #"{"label":["=x"]}"#] {
            #expect(throws: BerthError.self) { try EventFilter(try Filters.parse(json)) }
        }
    }
}

import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// Legacy links: parsing, the environment they give, where their targets are checked,
/// and `rm --link`.
@Suite struct LinkTests {
    @Test func parsesDockersForms() throws {
        #expect(try LegacyLink.parse("db") == LegacyLink(target: "db", alias: "db"))
        #expect(try LegacyLink.parse("db:data") == LegacyLink(target: "db", alias: "data"))
        #expect(try LegacyLink.parse("/db:/web/data") == LegacyLink(target: "db", alias: "data"))
        #expect(throws: BerthError.self) { try LegacyLink.parse("") }
        #expect(throws: BerthError.self) { try LegacyLink.parse("a:b:c") }
    }

    @Test func environmentHasDockersVariablesInDockersOrder() {
        let variables = LegacyLink.environment(
            linkName: "/web/my-db", targetAddress: "172.17.0.3",
            targetEnv: ["PASSWORD=s=cret", "PATH=/bin", "HOME=/root", "EMPTY="],
            exposedPorts: ["53/udp", "5432/tcp", "80"])
        #expect(variables == [
            "MY_DB_PORT=tcp://172.17.0.3:80",
            "MY_DB_PORT_80_TCP=tcp://172.17.0.3:80",
            "MY_DB_PORT_80_TCP_ADDR=172.17.0.3",
            "MY_DB_PORT_80_TCP_PORT=80",
            "MY_DB_PORT_80_TCP_PROTO=tcp",
            "MY_DB_PORT_5432_TCP=tcp://172.17.0.3:5432",
            "MY_DB_PORT_5432_TCP_ADDR=172.17.0.3",
            "MY_DB_PORT_5432_TCP_PORT=5432",
            "MY_DB_PORT_5432_TCP_PROTO=tcp",
            "MY_DB_PORT_53_UDP=udp://172.17.0.3:53",
            "MY_DB_PORT_53_UDP_ADDR=172.17.0.3",
            "MY_DB_PORT_53_UDP_PORT=53",
            "MY_DB_PORT_53_UDP_PROTO=udp",
            "MY_DB_NAME=/web/my-db",
            "MY_DB_ENV_PASSWORD=s=cret",
            "MY_DB_ENV_EMPTY=",
        ])
    }

    @Test func consecutivePortsAlsoGetARange() {
        let variables = LegacyLink.environment(linkName: "/a/b", targetAddress: "10.0.0.2", targetEnv: [],
                                               exposedPorts: ["8002/tcp", "8000/tcp", "8001/tcp"])
        #expect(variables.contains("B_PORT_8000_TCP_START=tcp://10.0.0.2:8000"))
        #expect(variables.contains("B_PORT_8000_TCP_PORT_START=8000"))
        #expect(variables.contains("B_PORT_8000_TCP_END=tcp://10.0.0.2:8002"))
        #expect(variables.contains("B_PORT_8000_TCP_PORT_END=8002"))
        #expect(variables.first == "B_PORT=tcp://10.0.0.2:8000")
        #expect(variables.last == "B_NAME=/a/b")
    }

    @Test func ownVariablesWinOverALinksOfTheSameName() {
        let merged = LegacyLink.merge(linkVariables: ["DB_NAME=/web/db", "DB_PORT=tcp://x:1"], into: ["DB_PORT=mine", "A=1"])
        #expect(merged == ["DB_NAME=/web/db", "DB_PORT=mine", "A=1"])
    }

    @Test func startGivesTheLinkVariablesOfARunningTarget() async throws {
        try await withDaemon { daemon in
            var config = ContainerConfig(Env: ["ROLE=primary"], Cmd: ["sleep", "600"], Image: "busybox")
            config.ExposedPorts = ["5432/tcp": EmptyObject()]
            let request = ContainerCreateRequest(config: config)
            _ = try await daemon.controller.createContainer(request, name: "db")
            try await daemon.controller.startContainer("db")
            let dbAddress = try #require(try await daemon.address("db"))
            let web = try await daemon.create("web", links: ["db:data"])
            try await daemon.controller.startContainer(web)
            let launched = try #require(daemon.runtime.snapshot.launches.last)
            #expect(launched.environment.contains("DATA_NAME=/web/data"))
            #expect(launched.environment.contains("DATA_ENV_ROLE=primary"))
            #expect(launched.environment.contains("DATA_PORT=tcp://\(dbAddress):5432"))
        }
    }

    @Test func aLinkOnTheDefaultBridgeNeedsItsTargetRunningAtStart() async throws {
        try await withDaemon { daemon in
            try await daemon.create("db")
            let web = try await daemon.create("web", links: ["db"])
            let launchesBefore = daemon.runtime.snapshot.launches.count
            do {
                try await daemon.controller.startContainer(web)
                Issue.record("the start should have been refused")
            } catch let error as BerthError {
                #expect(error.message == "Cannot link to a non running container: /db AS /web/db")
            }
            #expect(daemon.runtime.snapshot.launches.count == launchesBefore)
            #expect(try await daemon.status(web) == "created")
        }
    }

    @Test func aLinkOnAUserNetworkMayNameAContainerNotYetMade() async throws {
        try await withDaemon { daemon in
            try await daemon.network("n1")
            let settings = EndpointSettings(Links: ["later:db"])
            let id = try await daemon.create("web", network: "n1", extraNetworks: ["n1": settings])
            try await daemon.controller.startContainer(id)
            #expect(try await daemon.status(id) == "running")
        }
    }

    @Test func rmLinkDropsTheLinkAndKeepsBothRunning() async throws {
        try await withDaemon { daemon in
            try await daemon.run("db")
            let web = try await daemon.create("web", links: ["db:data"])
            try await daemon.controller.startContainer(web)
            let hostsPath = daemon.configuration.containerDir(web) + "/hosts"
            #expect(try String(contentsOfFile: hostsPath, encoding: .utf8).contains("data"))
            #expect(await errorCode { try await daemon.controller.removeLink("web/other") } == .notFound)
            #expect(await errorCode { try await daemon.controller.removeLink("db") } == .conflict)
            try await daemon.controller.removeLink("/web/data")
            #expect(!(try String(contentsOfFile: hostsPath, encoding: .utf8).contains("data")))
            #expect(try await daemon.status(web) == "running")
            #expect(try await daemon.status("db") == "running")
            #expect(try await daemon.inspect(web).NetworkSettings.Networks["bridge"]?.Links == nil)
        }
    }
}

import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// pause/unpause, top and rename over the fakes.
@Suite struct PauseRenameTests {
    @Test func pauseShowsPausedAndUnpauseRuns() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("p")
            try await daemon.controller.pauseContainer(id)
            let state = try await daemon.inspect(id).State
            #expect(state.Status == "paused" && state.Paused && state.Running)
            #expect(daemon.runtime.snapshot.paused == [id])
            #expect(await errorCode { try await daemon.controller.pauseContainer(id) } == .conflict)
            #expect(await errorCode { _ = try await daemon.controller.createExec(container: id, request: ExecCreateRequest(Cmd: ["true"])) } == .conflict)
            // Stored: a restarted daemon still shows it paused.
            let again = try await Harness(restarting: daemon)
            #expect(try await again.status(id) == "paused")
            try await again.controller.unpauseContainer(id)
            #expect(try await again.status(id) == "running")
            #expect(again.runtime.snapshot.paused.isEmpty)
            #expect(await errorCode { try await again.controller.unpauseContainer(id) } == .conflict)
        }
    }

    @Test func aFailedPauseLeavesItRunning() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("p")
            daemon.runtime.fail("pause")
            #expect(await errorCode { try await daemon.controller.pauseContainer(id) } == .internal)
            #expect(try await daemon.status(id) == "running")
        }
    }

    @Test func stopAndRemoveOfAPausedContainerThawIt() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("p")
            try await daemon.controller.pauseContainer(id)
            // The fake's frozen process ignores SIGTERM until thawed, as the kernel holds it.
            #expect(try await daemon.controller.stopContainer(id, timeout: 1))
            #expect(try await daemon.status(id) == "exited")
            #expect(daemon.runtime.snapshot.paused.isEmpty)
            #expect(await errorCode { try await daemon.controller.pauseContainer(id) } == .conflict)
            try await daemon.controller.startContainer(id)
            try await daemon.controller.pauseContainer(id)
            try await daemon.controller.removeContainer(id, force: true)
            #expect(await errorCode { _ = try await daemon.inspect(id) } == .notFound)
        }
    }

    @Test func topNeedsARunningContainer() async throws {
        try await withDaemon { daemon in
            let id = try await daemon.run("t")
            let table = try await daemon.controller.top(id, psArgs: nil)
            #expect(table.processes.map(\.first) == ["\(daemon.runtime.pid(of: id) ?? 0)"])
            try await daemon.exit(id)
            #expect(await errorCode { _ = try await daemon.controller.top(id, psArgs: nil) } == .conflict)
        }
    }

    @Test func renameChecksAndRecordsTheName() async throws {
        try await withDaemon { daemon in
            // Names that are not hex: an ID prefix would find the container by its ID.
            let a = try await daemon.run("web")
            _ = try await daemon.create("other")
            try await daemon.controller.renameContainer("web", to: "renamed")
            #expect(try await daemon.inspect(a).Name == "/renamed")
            #expect(await errorCode { _ = try await daemon.inspect("web") } == .notFound)
            #expect(await errorCode { try await daemon.controller.renameContainer(a, to: "other") } == .conflict)
            #expect(await errorCode { try await daemon.controller.renameContainer(a, to: "") } == .invalidArgument)
            #expect(await errorCode { try await daemon.controller.renameContainer(a, to: "renamed") } == .invalidArgument)
            #expect(await errorCode { try await daemon.controller.renameContainer(a, to: "_x") } == .invalidArgument)
            // The old name is free again, and the new one is stored.
            _ = try await daemon.create("web")
            let again = try await Harness(restarting: daemon)
            #expect(try await again.inspect(a).Name == "/renamed")
        }
    }

    @Test func linksFollowARenamedContainer() async throws {
        #expect(Controller.renamedLink("db", from: "db", to: "store") == "store:db")
        #expect(Controller.renamedLink("/db:/web/database", from: "db", to: "store") == "store:/web/database")
        #expect(Controller.renamedLink("db:database", from: "db", to: "store") == "store:database")
        #expect(Controller.renamedLink("dbx:db", from: "db", to: "store") == nil)
        try await withDaemon { daemon in
            _ = try await daemon.run("db")
            let web = try await daemon.create("web", links: ["db:database"])
            try await daemon.controller.renameContainer("db", to: "store")
            #expect(try await daemon.inspect(web).HostConfig.Links == ["store:database"])
            let stored = try #require(await daemon.controller.containers[web])
            #expect(stored.attachments.first?.links == ["store:database"])
            // Stored: a restarted daemon has the rewritten link.
            let again = try await Harness(restarting: daemon)
            #expect(await again.controller.containers[web]?.attachments.first?.links == ["store:database"])
        }
    }

    @Test func aFailedSaveKeepsTheOldName() async throws {
        try await withDaemon { daemon in
            let a = try await daemon.run("a")
            daemon.store.failNextWrite(to: StoreKeys.container(a))
            #expect(await errorCode { try await daemon.controller.renameContainer(a, to: "new") } != nil)
            #expect(try await daemon.inspect("a").Id == a)
        }
    }
}

import BerthCore
@testable import Daemon
import DockerAPI
import Testing

/// The image entry points, which reach images only through `RuntimeService`.
@Suite struct ImageTests {
    @Test func imagesAreListedWithTheirContainers() async throws {
        try await withDaemon { daemon in
            try await daemon.create("c1", image: "docker.io/library/busybox")
            let summaries = try await daemon.controller.imageSummaries(filters: Filters(), legacyReference: nil)
            #expect(summaries.map(\.Id) == [FakeRuntime.busyboxID])
            #expect(summaries.first?.Containers == 1)
            #expect(await daemon.controller.info().Images == 1)
            let inspect = try await daemon.controller.imageInspect("busybox:latest")
            guard case .string(let id)? = inspect["Id"] else { Issue.record("no Id"); return }
            #expect(id == FakeRuntime.busyboxID)
        }
    }

    @Test func anImageInUseIsNotRemovedWithoutForce() async throws {
        try await withDaemon { daemon in
            try await daemon.create("c1")
            #expect(await errorCode { _ = try await daemon.controller.removeImage("busybox", force: false) } == .conflict)
            #expect(await errorCode { _ = try await daemon.controller.imageInspect("alpine") } == .notFound)
        }
    }
}

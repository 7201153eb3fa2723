import BerthCore
import DockerAPI
import HTTPUnix

extension APIRoutes {
    /// pause, unpause, top and rename.
    func addLifecycleRoutes(_ router: inout Router) {
        let controller = self.controller
        router.add(.POST, "/containers/{id}/pause") { request in
            await respond {
                try await controller.pauseContainer(request.param("id"))
                return .empty(.noContent)
            }
        }
        router.add(.POST, "/containers/{id}/unpause") { request in
            await respond {
                try await controller.unpauseContainer(request.param("id"))
                return .empty(.noContent)
            }
        }
        router.add(.GET, "/containers/{id}/top") { request in
            await respond {
                let table = try await controller.top(request.param("id"), psArgs: request.query["ps_args"])
                return .json(.ok, ContainerTopResponse(Titles: table.titles, Processes: table.processes))
            }
        }
        router.add(.POST, "/containers/{id}/rename") { request in
            await respond {
                try await controller.renameContainer(request.param("id"), to: request.query["name"])
                return .empty(.noContent)
            }
        }
    }
}

/// `GET /containers/{id}/top`.
struct ContainerTopResponse: Codable, Sendable {
    var Titles: [String]
    var Processes: [[String]]
}

import BerthCore
import DockerAPI
import HTTPUnix

extension APIRoutes {
    func addNetworkRoutes(_ router: inout Router) {
        let controller = self.controller
        router.add(.GET, "/networks") { request in
            await respond {
                let filters = try request.filters()
                let resources = try await controller.networkResources(filters: filters)
                return .json(.ok, resources)
            }
        }
        router.add(.GET, "/networks/{id}") { request in
            await respond {
                .json(.ok, try await controller.networkResource(reference: request.param("id")))
            }
        }
        router.add(.POST, "/networks/create") { request in
            await respond {
                let body = try request.json(NetworkCreateRequest.self)
                let network = try await controller.createNetwork(body)
                return .json(.created, IDResponse(Id: network.id, Warning: ""))
            }
        }
        router.add(.DELETE, "/networks/{id}") { request in
            await respond {
                try await controller.removeNetwork(request.param("id"))
                return .empty(.noContent)
            }
        }
        router.add(.POST, "/networks/prune") { request in
            await respond {
                let filters = try request.filters()
                return .json(.ok, NetworksPruneResponse(NetworksDeleted: try await controller.pruneNetworks(filters: filters)))
            }
        }
        router.add(.POST, "/networks/{id}/connect") { request in
            await respond {
                let body = try request.json(NetworkConnectRequest.self)
                try await controller.connect(network: request.param("id"), container: body.Container, settings: body.EndpointConfig)
                return .empty(.ok)
            }
        }
        router.add(.POST, "/networks/{id}/disconnect") { request in
            await respond {
                let body = try request.json(NetworkDisconnectRequest.self)
                try await controller.disconnect(network: request.param("id"), container: body.Container, force: body.Force ?? false)
                return .empty(.ok)
            }
        }
    }
}

extension Controller {
    func networkResource(reference: String) throws -> NetworkResource {
        networkResource(try network(reference))
    }
}

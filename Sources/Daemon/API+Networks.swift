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
        router.add(.POST, "/networks/prune") { _ in
            await .json(.ok, NetworksPruneResponse(NetworksDeleted: controller.pruneNetworks()))
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

    func networkResources(filters: [String: [String]]) throws -> [NetworkResource] {
        for key in filters.keys where !["name", "id", "driver", "type", "label", "scope", "dangling"].contains(key) {
            throw BerthError.invalid("invalid filter '\(key)'")
        }
        return listNetworks().filter { network in
            if let names = filters["name"], !names.contains(where: { network.name.contains($0) }) { return false }
            if let ids = filters["id"], !ids.contains(where: { network.id.hasPrefix($0) }) { return false }
            if let drivers = filters["driver"], !drivers.contains(network.driver) { return false }
            if let scopes = filters["scope"], !scopes.contains("local") { return false }
            if let types = filters["type"] {
                let type = network.predefined ? "builtin" : "custom"
                if !types.contains(type) { return false }
            }
            if let labels = filters["label"] {
                for label in labels {
                    let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                    guard let value = network.labels[parts[0]] else { return false }
                    if parts.count == 2, value != parts[1] { return false }
                }
            }
            if let dangling = filters["dangling"], let wanted = dangling.first {
                let isDangling = !network.predefined && containersUsing(network).isEmpty
                if (wanted == "true" || wanted == "1") != isDangling { return false }
            }
            return true
        }.map(networkResource)
    }
}

import HTTPUnix

/// berth runs no swarm: its endpoints answer as a Docker engine outside a swarm does,
/// which clients rely on (docker-py's tests, tools probing `GET /swarm` or `/nodes`).
extension APIRoutes {
    static let notASwarmManager =
        "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."
    static let notInASwarm = "This node is not part of a swarm"

    func addSwarmRoutes(_ router: inout Router) {
        let notManager: @Sendable (HTTPRequest) async -> HTTPResponse = { _ in .error(.serviceUnavailable, Self.notASwarmManager) }
        router.add(.GET, "/swarm", notManager)
        for kind in ["nodes", "services", "tasks", "secrets", "configs"] {
            router.add(.GET, "/\(kind)", notManager)
            router.add(.GET, "/\(kind)/{id}", notManager)
        }
        router.add(.POST, "/swarm/update", notManager)
        router.add(.GET, "/swarm/unlockkey", notManager)
        router.add(.POST, "/swarm/leave") { _ in .error(.serviceUnavailable, Self.notInASwarm) }
        router.add(.POST, "/swarm/unlock") { _ in .error(.serviceUnavailable, Self.notInASwarm) }
        // Refused rather than answered as a swarm would: berth cannot become one.
        let refused: @Sendable (HTTPRequest) async -> HTTPResponse = { _ in
            .error(.badRequest, "berth does not run swarm mode; multi-host networks come from --cluster-store (see berthd --help)")
        }
        router.add(.POST, "/swarm/init", refused)
        router.add(.POST, "/swarm/join", refused)
    }
}

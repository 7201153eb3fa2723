import BerthCore
import DockerAPI
import Drivers

/// The predefined "host" and "none" networks, Docker's drivers "host" and "null": records
/// that stand for a container's network mode (`--network host|none`), with no kernel
/// objects and no endpoints of their own. There is only ever the one network of each.
struct ModeDriver: NetworkDriver {
    static let host = ModeDriver(name: "host", mode: .host)
    static let null = ModeDriver(name: "null", mode: NetworkMode.none)

    let name: String
    let mode: NetworkMode

    var connectsContainers: Bool { false }
    var containerMode: NetworkMode? { mode }

    func validate(_ request: NetworkCreateRequest) throws(BerthError) {
        throw BerthError.invalid("only one instance of \"\(name)\" network is allowed")
    }

    func create(_ network: NetworkRecord) async throws {
        throw BerthError.invalid("only one instance of \"\(name)\" network is allowed")
    }

    func delete(_ network: NetworkRecord) async {}

    func interfaceSpec(_ endpoint: EndpointRecord, on network: NetworkRecord, defaultRoute: Bool,
                       defaultRoute6: Bool) throws(BerthError) -> InterfaceSpec {
        throw BerthError.invalid("containers have no interface on the \(network.name) network")
    }

    func leave(_ endpoint: EndpointRecord, done: @escaping @Sendable () -> Void) async { done() }
}

import BerthCore
import DockerAPI
import Drivers

/// `network create --config-only`: Docker records such a network with the "null" driver
/// and local scope whatever driver was asked, and makes nothing for it. Not registered by
/// name ("null" is the none network's driver): `DriverRegistry.of` picks it for records
/// marked config-only, so none of the none network's mode semantics apply to it.
struct ConfigOnlyDriver: NetworkDriver {
    static let dockerName = "null"
    /// Docker's refusal of an endpoint on such a network (403).
    static let joinRefusal = BerthError(.forbidden, "cannot create endpoint on configuration-only network")

    var name: String { Self.dockerName }
    var connectsContainers: Bool { false }

    func validate(_ request: NetworkCreateRequest) throws(BerthError) {}
    func create(_ network: NetworkRecord) async throws {}
    func delete(_ network: NetworkRecord) async throws(BerthError) {}

    func interfaceSpec(_ endpoint: EndpointRecord, on network: NetworkRecord, defaultRoute: Bool,
                       defaultRoute6: Bool) throws(BerthError) -> InterfaceSpec {
        throw Self.joinRefusal
    }

    func leave(_ endpoint: EndpointRecord, done: @escaping @Sendable () -> Void) async { done() }
}

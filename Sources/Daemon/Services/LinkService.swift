import BerthCore
import Drivers
import IPAM

/// The kernel's links and namespaces as the controller uses them: bridges, container
/// sandboxes and their veths, policy-routing isolation, overlay devices, spares.
/// `NetworkWorker` is the real one; tests use a fake that needs no privileges.
protocol LinkService: AnyObject, Sendable {
    // MARK: bridges and the host's prefixes
    @discardableResult
    func ensureBridge(_ spec: BridgeSpec, claim: BridgeClaim) async throws -> Bool
    func removeBridge(name: String) async throws
    func hostNetworks(excludingBridges bridges: [String]) async throws -> [IPv4Network]
    func prefixesInUse(excludingBridges bridges: [String]) async throws -> [PrefixInUse]
    func bridgePorts(bridges: [String]) async throws -> [String]
    func deleteLinks(_ names: [String]) async

    // MARK: sandboxes and interfaces
    func createSandbox(_ spec: SandboxSpec, portsNamed: (@Sendable ([String]) -> Void)?) async throws -> Sandbox
    func destroySandbox(path: String, hostInterfaces: [String]) async
    func releaseSandbox(path: String, hostInterfaces: [String], done: @escaping @Sendable () -> Void)
    func attach(sandboxPath: String, interface: InterfaceSpec) async throws
    func detach(hostInterface: String) async throws
    func releaseInterface(hostInterface: String, done: @escaping @Sendable () -> Void)
    func keepSpareNamespaces(_ count: Int, in directory: String)
    func dropSpareNamespaces() async

    // MARK: isolation rules
    func isolate(_ network: IsolatedNetwork, exemptMark: UInt32) async throws
    func releaseIsolation(_ network: IsolatedNetwork, exemptMark: UInt32) async throws
    func synchronizeIsolation(_ networks: [IsolatedNetwork], exemptMark: UInt32) async throws -> Int
    func removeIsolation() async throws

    // MARK: overlays (cluster mode)
    func underlay(for address: IPv4Address) async throws -> Underlay?
    func ipv4Address(ofInterface name: String) async throws -> IPv4Address?
    func ensureOverlay(_ spec: OverlaySpec, underlayIndex: Int32?) async throws
    func removeOverlay(_ spec: OverlaySpec) async throws
    func removeOverlayNamespaces(in directory: String, keeping: Set<String>) async
    func updateRemoteNeighbours(vxlan: String, adding: [RemoteNeighbour], removing: [RemoteNeighbour]) async throws
}

extension NetworkWorker: LinkService {}

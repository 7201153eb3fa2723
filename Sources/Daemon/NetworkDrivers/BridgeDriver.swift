import BerthCore
import DockerAPI
import Drivers
import Firewall
import Logging

/// Docker's bridge driver: a Linux bridge on this host per network, its containers on
/// veth pairs, NAT and isolation in berth's firewall and policy routing rules.
struct BridgeDriver: BridgedDriver {
    static let name = "bridge"
    let bridged: BridgedNetwork
    /// `berthd --mtu`: a network's MTU unless its options give one.
    let defaultMTU: Int

    var name: String { Self.name }
    var connectsContainers: Bool { true }

    static let options = DriverOptions(
        driver: name,
        known: [DriverOptions.icc, DriverOptions.masquerade, DriverOptions.bridgeName, DriverOptions.mtu,
                DriverOptions.antiSpoofing],
        booleans: [DriverOptions.icc, DriverOptions.masquerade, DriverOptions.antiSpoofing],
        namespaces: ["com.docker.network.bridge.", "com.docker.network.driver.", DriverOptions.berthNamespace])

    func validate(_ request: NetworkCreateRequest) throws(BerthError) {
        try Self.validate(options: request.Options ?? [:])
    }

    static func validate(options: [String: String]) throws(BerthError) {
        try Self.options.check(options)
        if let text = options[DriverOptions.mtu] { _ = try Self.mtu(text) }
        if let name = options[DriverOptions.bridgeName] { try Self.checkDeviceName(name) }
    }

    func configure(_ network: inout NetworkRecord) throws(BerthError) {
        try Self.configure(&network, defaultMTU: defaultMTU)
    }

    static func configure(_ network: inout NetworkRecord, defaultMTU: Int) throws(BerthError) {
        network.mtu = try network.options[DriverOptions.mtu].map { text throws(BerthError) in try mtu(text) } ?? defaultMTU
        let given = network.options[DriverOptions.bridgeName]
        let bridge = given ?? "br-" + network.id.prefix(12)
        try checkDeviceName(bridge)
        network.bridgeName = bridge
    }

    static func mtu(_ text: String) throws(BerthError) -> Int {
        guard let value = Int(text), (68...65535).contains(value) else { throw BerthError.invalid("invalid MTU \(text)") }
        return value
    }

    static func checkDeviceName(_ name: String) throws(BerthError) {
        guard name.utf8.count <= 15, !name.isEmpty, !name.contains("/"), !name.contains(" ") else {
            throw BerthError.invalid("invalid bridge name \(name): at most 15 characters, no '/' or spaces")
        }
    }

    func create(_ network: NetworkRecord) async throws {
        let created = try await ensureDevice(network, adopting: true)
        do {
            try await bridged.addRules(network)
        } catch {
            if created { await removeDevice(of: network) }
            throw error
        }
    }

    func restore(_ network: NetworkRecord, adopting: Bool) async throws {
        try await ensureDevice(network, adopting: adopting)
    }

    /// Makes the bridge exist with its addresses; true if this call created it. An
    /// existing link is taken only if it is berth's (see `BridgeClaim`).
    @discardableResult
    func ensureDevice(_ network: NetworkRecord, adopting: Bool) async throws -> Bool {
        try await bridged.worker.ensureBridge(try BridgedNetwork.bridgeSpec(network), claim: adopting ? .new : .recorded)
    }

    /// Removes the bridge device alone, if it is berth's (marked).
    func removeDevice(named name: String) async throws {
        try await bridged.worker.removeBridge(name: name)
    }

    /// Undoes a bridge this request made: a failure is logged, as the caller is already
    /// failing for another reason (a start removes what is left).
    func removeDevice(of network: NetworkRecord) async {
        guard let name = network.bridgeName else { return }
        do { try await removeDevice(named: name) } catch {
            bridged.logger.warning("removing bridge failed", metadata: [
                "network": .string(network.name), "bridge": .string(name), "error": .string("\(error)")])
        }
    }

    func delete(_ network: NetworkRecord) async throws(BerthError) {
        var teardown = Teardown("removing network \(network.name)", logger: bridged.logger)
        await bridged.removeRules(network, in: &teardown)
        if let name = network.bridgeName {
            await teardown.step("removing bridge \(name)") { try await removeDevice(named: name) }
        }
        if let error = teardown.error { throw error }
    }

    /// The veth goes on the teardown thread; its address stays taken until `done`.
    func leave(_ endpoint: EndpointRecord, done: @escaping @Sendable () -> Void) async {
        bridged.worker.releaseInterface(hostInterface: endpoint.hostInterface, done: done)
    }
}

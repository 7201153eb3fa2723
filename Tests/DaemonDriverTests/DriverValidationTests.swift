import BerthCore
@testable import Daemon
import DockerAPI
import Testing

/// The error `body` throws, or nil when it throws none.
private func refusal(_ body: () throws -> Void) -> BerthError? {
    do {
        try body()
        return nil
    } catch {
        return (error as? BerthError) ?? BerthError(.internal, "not a BerthError: \(error)")
    }
}

@Suite("Driver registry")
struct DriverRegistryTests {
    @Test func unknownDriverKeepsDockersText() {
        let error = DriverRegistry.unknown("macvlan", creatable: ["overlay", "bridge"])
        #expect(error.code == .invalidArgument)
        #expect(error.message == "plugin \"macvlan\" not found: berth supports the bridge and overlay drivers")
        #expect(DriverRegistry.unknown("x", creatable: ["bridge"]).message == "plugin \"x\" not found: berth supports the bridge driver")
    }

    @Test(arguments: [ModeDriver.host, ModeDriver.null])
    func predefinedNetworksAreOneOfAKind(_ driver: ModeDriver) {
        let error = refusal { try driver.validate(NetworkCreateRequest(Name: "another", Driver: driver.name)) }
        #expect(error?.message == "only one instance of \"\(driver.name)\" network is allowed")
        #expect(!driver.connectsContainers)
        #expect(driver.scope == .local)
    }

    @Test func modeDriversStandForContainerModes() {
        #expect(ModeDriver.host.containerMode == .host)
        #expect(ModeDriver.null.containerMode == NetworkMode.none)
    }
}

@Suite("Bridge driver options")
struct BridgeOptionTests {
    @Test(arguments: [
        [:],
        ["com.docker.network.bridge.enable_icc": "false", "com.docker.network.bridge.enable_ip_masquerade": "T"],
        ["com.docker.network.bridge.name": "br-mine", "com.docker.network.driver.mtu": "1400"],
        // The user's own options, outside the driver's namespaces, are kept as Docker keeps them.
        ["team": "a", "com.example.tier": "front"],
    ])
    func accepted(_ options: [String: String]) {
        #expect(refusal { try BridgeDriver.validate(options: options) } == nil)
    }

    @Test(arguments: [
        (["com.docker.network.bridge.enable_icc": "maybe"], "invalid value \"maybe\" for com.docker.network.bridge.enable_icc"),
        (["com.docker.network.bridge.enable_ip_masquerade": ""], "invalid value \"\" for com.docker.network.bridge.enable_ip_masquerade"),
        (["com.docker.network.driver.mtu": "67"], "invalid MTU 67"),
        (["com.docker.network.driver.mtu": "65536"], "invalid MTU 65536"),
        (["com.docker.network.driver.mtu": "1e3"], "invalid MTU 1e3"),
        (["com.docker.network.bridge.name": "a-very-long-name0"], "invalid bridge name"),
        (["com.docker.network.bridge.name": "a/b"], "invalid bridge name"),
        (["com.docker.network.bridge.name": ""], "invalid bridge name"),
        (["com.docker.network.bridge.enable_icx": "true"], "option com.docker.network.bridge.enable_icx is not supported by the bridge driver"),
        (["com.docker.network.bridge.host_binding_ipv4": "0.0.0.0"], "option com.docker.network.bridge.host_binding_ipv4 is not supported by the bridge driver"),
        (["com.docker.network.driver.overlay.vxlanid_list": "300"], "option com.docker.network.driver.overlay.vxlanid_list is not supported by the bridge driver"),
    ])
    func refused(_ options: [String: String], _ message: String) {
        let error = refusal { try BridgeDriver.validate(options: options) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "accepted")")
    }

    @Test func firstRefusalIsNamedInAStableOrder() {
        let options = ["com.docker.network.bridge.zzz": "1", "com.docker.network.bridge.aaa": "1"]
        #expect(refusal { try BridgeDriver.validate(options: options) }?.message.contains(".aaa") == true)
    }

    @Test(arguments: [("1", true), ("t", true), ("TRUE", true), ("0", false), ("F", false), ("false", false)])
    func goBooleans(_ text: String, _ value: Bool) {
        #expect(DriverOptions.flag(text) == value)
    }

    @Test func notBooleans() {
        #expect(DriverOptions.flag("yes") == nil)
        #expect(DriverOptions.flag(nil) == nil)
    }
}

@Suite("Overlay driver options")
struct OverlayOptionTests {
    private func request(options: [String: String]? = nil, pools: [IPAMSettings.Pool] = [], ipv6: Bool? = nil) -> NetworkCreateRequest {
        NetworkCreateRequest(Name: "ov", Driver: "overlay", IPAM: IPAMSettings(Driver: nil, Config: pools, Options: nil),
                             EnableIPv6: ipv6, Options: options)
    }

    @Test func accepted() {
        #expect(refusal { try OverlayDriver.validate(request(), clustered: true) } == nil)
        let options = ["com.docker.network.bridge.enable_ip_masquerade": "false", "com.docker.network.bridge.enable_icc": "true", "team": "a"]
        #expect(refusal { try OverlayDriver.validate(request(options: options, pools: [.init(Subnet: "10.10.0.0/24")]), clustered: true) } == nil)
    }

    @Test func needsACluster() {
        #expect(refusal { try OverlayDriver.validate(request(), clustered: false) }?.message.contains("need a cluster store") == true)
    }

    @Test(arguments: [
        (["com.docker.network.bridge.enable_icc": "false"], "do not support"),
        (["com.docker.network.bridge.enable_icc": "maybe"], "invalid value"),
        (["com.docker.network.bridge.name": "br-x"], "not supported by the overlay driver"),
        (["com.docker.network.driver.mtu": "1400"], "not supported by the overlay driver"),
        (["com.docker.network.driver.overlay.vxlanid_list": "300"], "not supported by the overlay driver"),
        (["encrypted": ""], "does not encrypt overlay traffic"),
    ])
    func refusedOptions(_ options: [String: String], _ message: String) {
        let error = refusal { try OverlayDriver.validate(request(options: options), clustered: true) }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "accepted")")
    }

    @Test func refusedAddressing() {
        #expect(refusal { try OverlayDriver.validate(request(ipv6: true), clustered: true) }?.message.contains("IPv6") == true)
        let two = [IPAMSettings.Pool(Subnet: "10.10.0.0/24"), .init(Subnet: "10.11.0.0/24")]
        #expect(refusal { try OverlayDriver.validate(request(pools: two), clustered: true) }?.message.contains("one IPv4 subnet") == true)
        let gatewayOnly = [IPAMSettings.Pool(Gateway: "10.10.0.1")]
        #expect(refusal { try OverlayDriver.validate(request(pools: gatewayOnly), clustered: true) }?.message.contains("needs a subnet") == true)
        let auxiliary = [IPAMSettings.Pool(Subnet: "10.10.0.0/24", AuxiliaryAddresses: ["a": "10.10.0.5"])]
        #expect(refusal { try OverlayDriver.validate(request(pools: auxiliary), clustered: true) }?.message.contains("auxiliary") == true)
    }
}

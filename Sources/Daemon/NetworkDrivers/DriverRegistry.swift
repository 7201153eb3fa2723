import BerthCore
import Cluster
import Drivers
import Firewall
import Logging

/// The network drivers by name: the one place a driver is chosen. An unknown name is
/// refused here, as Docker refuses a driver plugin it cannot find.
struct DriverRegistry: Sendable {
    private var drivers: [String: any NetworkDriver] = [:]
    /// Typed access for what only these drivers do: the default network and the cluster following.
    let bridge: BridgeDriver
    private(set) var overlay: OverlayDriver

    init(configuration: DaemonConfiguration, worker: any LinkService, firewall: any FirewallService, cluster: ClusterStore?,
         logger: Logger) {
        let bridged = BridgedNetwork(worker: worker, firewall: firewall, ipMasquerade: configuration.ipMasquerade, logger: logger)
        bridge = BridgeDriver(bridged: bridged, defaultMTU: configuration.mtu)
        overlay = OverlayDriver(bridged: bridged, cluster: cluster, underlay: nil, overlaysDirectory: configuration.overlaysDir)
        // One line per driver.
        register(bridge)
        register(overlay)
        register(ModeDriver.host)
        register(ModeDriver.null)
    }

    private mutating func register(_ driver: any NetworkDriver) {
        drivers[driver.name] = driver
    }

    /// The node joined its cluster: overlays are made on this underlay from now on.
    mutating func joined(underlay: Underlay) {
        overlay = OverlayDriver(bridged: overlay.bridged, cluster: overlay.cluster, underlay: underlay,
                                overlaysDirectory: overlay.overlaysDirectory)
        register(overlay)
    }

    /// `network create -d NAME`: the driver, or Docker's error for a missing plugin.
    func named(_ name: String) throws(BerthError) -> any NetworkDriver {
        guard let driver = drivers[name] else {
            throw Self.unknown(name, creatable: drivers.values.filter(\.connectsContainers).map(\.name))
        }
        return driver
    }

    /// Docker's text for a driver it has no plugin for, and the ones `-d` can take here.
    static func unknown(_ name: String, creatable: [String]) -> BerthError {
        let sorted = creatable.sorted()
        let list = sorted.count > 1 ? sorted.dropLast().joined(separator: ", ") + " and " + (sorted.last ?? "") : sorted.joined()
        return BerthError.invalid("plugin \"\(name)\" not found: berth supports the \(list) driver\(sorted.count > 1 ? "s" : "")")
    }

    /// The driver of a recorded network. Start refuses records of a driver not
    /// registered (`checkKnown`), so the fallback, which makes nothing, is never used.
    func of(_ network: NetworkRecord) -> any NetworkDriver {
        if network.isConfigOnly { return ConfigOnlyDriver() }
        return drivers[network.driver] ?? ModeDriver.null
    }

    func checkKnown(_ network: NetworkRecord) throws(BerthError) {
        guard drivers[network.driver] != nil else {
            throw BerthError.invalid("network \(network.name) has driver \"\(network.driver)\", which this berth does not know")
        }
    }

    var all: [any NetworkDriver] { Array(drivers.values) }
}

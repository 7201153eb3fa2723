import BerthCore

/// The `-o` options a driver knows. Options under one of its namespaces
/// (`com.docker.network.bridge.` ...) that it does not know are refused, so nothing is
/// accepted and ignored; options outside them are the user's own, kept and shown as Docker does.
struct DriverOptions: Sendable {
    static let icc = "com.docker.network.bridge.enable_icc"
    static let masquerade = "com.docker.network.bridge.enable_ip_masquerade"
    static let bridgeName = "com.docker.network.bridge.name"
    static let mtu = "com.docker.network.driver.mtu"
    /// How Docker shows an overlay's VNI in `network inspect`.
    static let vxlanID = "com.docker.network.driver.overlay.vxlanid_list"
    /// The default network's options, as Docker shows them; never given by a user.
    static let defaultBridge = "com.docker.network.bridge.default_bridge"
    static let hostBindingIPv4 = "com.docker.network.bridge.host_binding_ipv4"
    /// berth's own options live under `berth.`; any other key there is refused.
    static let berthNamespace = "berth."
    /// Anti-spoofing on the network's endpoints (default true; see `Controller.guardsEndpoints`).
    static let antiSpoofing = "berth.network.enable_anti_spoofing"

    let driver: String
    /// Options the driver reads; the only ones accepted under its namespaces.
    let known: Set<String>
    /// Options read as booleans.
    let booleans: Set<String>
    let namespaces: [String]

    /// One line naming the first option refused, in a stable order.
    func check(_ options: [String: String]) throws(BerthError) {
        for (key, value) in options.sorted(by: { $0.key < $1.key }) {
            if !known.contains(key), namespaces.contains(where: { key.hasPrefix($0) }) {
                throw BerthError.invalid("option \(key) is not supported by the \(driver) driver")
            }
            if booleans.contains(key), Self.flag(value) == nil {
                throw BerthError.invalid("invalid value \"\(value)\" for \(key): true or false")
            }
        }
    }

    /// Docker accepts Go's boolean spellings for driver options.
    static func flag(_ text: String?) -> Bool? {
        switch text?.lowercased() {
        case "1", "t", "true": true
        case "0", "f", "false": false
        default: nil
        }
    }
}

import BerthCore

/// `HostConfig.PidMode`: berth gives every container a pid namespace of its own (Docker's
/// ""), and refuses "host" and "container:<id>" rather than ignoring them.
enum PidMode {
    static func validate(_ mode: String?) throws(BerthError) {
        guard let mode, !mode.isEmpty else { return }
        throw .invalid("invalid PidMode \"\(mode)\": berth runs every container in a pid namespace of its own, so only \"\" is supported")
    }
}

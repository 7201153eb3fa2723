import BerthCore

/// The address pools a network's subnet is chosen from when none is given, in Docker's
/// order: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/16 cut into /20s.
public struct SubnetPool: Sendable {
    public var candidates: [IPv4Network]

    public init(candidates: [IPv4Network]) { self.candidates = candidates }

    public static let dockerDefault: SubnetPool = {
        var list: [IPv4Network] = []
        for second in UInt8(17)...31 {
            if let net = IPv4Network(address: IPv4Address(172, second, 0, 0), prefixLength: 16) { list.append(net) }
        }
        for third in stride(from: 0, to: 256, by: 16) {
            if let net = IPv4Network(address: IPv4Address(192, 168, UInt8(third), 0), prefixLength: 20) { list.append(net) }
        }
        return SubnetPool(candidates: list)
    }()

    /// The first candidate that overlaps none of `inUse` (host routes and addresses,
    /// other networks' subnets).
    public func pick(avoiding inUse: [IPv4Network]) throws(BerthError) -> IPv4Network {
        for candidate in candidates where !inUse.contains(where: { $0.overlaps(candidate) }) {
            return candidate
        }
        throw BerthError(.exhausted, "all predefined address pools have been fully subnetted: give a subnet with --subnet")
    }
}

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

    /// The first `prefixLength` block of `base` that overlaps none of `inUse`, counted out
    /// one block at a time instead of listed: Docker's overlay pool, 10.0.0.0/8 in /24s, has
    /// 65,536 of them.
    public static func firstFree(in base: IPv4Network, prefixLength: Int, avoiding inUse: [IPv4Network]) throws(BerthError) -> IPv4Network {
        guard prefixLength >= base.prefixLength, prefixLength <= 30 else {
            throw BerthError.invalid("cannot cut /\(prefixLength) blocks out of \(base)")
        }
        let count = UInt64(1) << UInt64(prefixLength - base.prefixLength)
        let step = UInt64(1) << UInt64(32 - prefixLength)
        for block in 0..<count {
            let address = IPv4Address(UInt32(truncatingIfNeeded: UInt64(base.networkAddress.value) + block * step))
            guard let candidate = IPv4Network(address: address, prefixLength: prefixLength) else { continue }
            if !inUse.contains(where: { $0.overlaps(candidate) }) { return candidate }
        }
        throw BerthError(.exhausted, "the address pool \(base) has no free /\(prefixLength) left: give a subnet with --subnet")
    }

    /// Where overlay networks take their subnet from when none is given, as in Docker.
    public static let overlayBase = IPv4Network(address: IPv4Address(10, 0, 0, 0), prefixLength: 8)
}

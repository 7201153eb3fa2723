import BerthCore
import NIOCore

/// `DNSRecords` plus the daemon's upstreams, arranged for answering: per requester, the
/// tables of the networks it is on, where to forward, and whether it may. Built once per
/// `update`, then only read, from any event loop.
final class Snapshot: Sendable {
    struct Scope: Sendable {
        var networks: [DNSRecords.Network]
        var upstreams: [SocketAddress]
        var mayForward: Bool
    }

    let scopes: [IPAddress: Scope]

    init(records: DNSRecords, upstreams: [DNSUpstream]) {
        let daemonUpstreams = Snapshot.socketAddresses(upstreams)
        var scopes: [IPAddress: Scope] = [:]
        // Requesters sharing a network list share one compiled scope (usually one per container).
        var compiled: [[String]: (networks: [DNSRecords.Network], mayForward: Bool)] = [:]
        for (address, requester) in records.requesters {
            let entry = compiled[requester.networks] ?? {
                // Unknown IDs are ignored; undeclared scopes add names but never permit forwarding.
                let networks = requester.networks.compactMap { records.networks[$0] }
                return (networks, networks.contains { $0.isDeclared && !$0.isInternal })
            }()
            compiled[requester.networks] = entry
            let own = requester.upstreams.map(Snapshot.socketAddresses)
            scopes[address] = Scope(networks: entry.networks, upstreams: own ?? daemonUpstreams, mayForward: entry.mayForward)
        }
        self.scopes = scopes
    }

    /// Typed addresses always convert; one that would not is left out rather than taking
    /// every other upstream down with it.
    static func socketAddresses(_ upstreams: [DNSUpstream]) -> [SocketAddress] {
        upstreams.compactMap { try? SocketAddress(ipAddress: $0.address.description, port: $0.port) }
    }
}

extension IPAddress {
    /// The peer address of a packet or connection, without going through text.
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            self = .v4(IPv4Address(UInt32(bigEndian: v4.address.sin_addr.s_addr)))
        case .v6(let v6):
            let (high, low) = withUnsafeBytes(of: v6.address.sin6_addr) { raw in
                (UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            self = .unmapped(high: high, low: low)
        default:
            return nil
        }
    }

    /// An IPv6 peer address; a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d, and
    /// records hold those as IPv4.
    static func unmapped(high: UInt64, low: UInt64) -> IPAddress {
        if high == 0, low >> 32 == 0xffff { return .v4(IPv4Address(UInt32(truncatingIfNeeded: low))) }
        return .v6(IPv6Address(high: high, low: low))
    }
}

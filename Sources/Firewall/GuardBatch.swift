import BerthCore
import Glibc
import Netlink

/// The anti-spoofing guard's element changes as one raw nf_tables batch on a netlink
/// socket, not through libnftables: a libnftables call parses its script and first fetches
/// the ruleset's tables and sets to resolve names and types (0.28 ms a call with berth's
/// table, measured), while the elements' binary form is fixed by `GuardSet`: the port's
/// name zero-padded to 16 bytes, then the MAC (padded to 8), IPv4 or IPv6 address, in
/// network order, as nft's concatenations lay out their registers. The kernel commits the
/// batch atomically, as it does libnftables' own.
final class GuardBatch {
    private let socket: NetlinkSocket
    private var sequence: UInt32 = 1

    private enum Nft {
        static let subsystem: UInt16 = 10                 // NFNL_SUBSYS_NFTABLES
        static let newElements: UInt16 = 12               // NFT_MSG_NEWSETELEM
        static let deleteElements: UInt16 = 14            // NFT_MSG_DELSETELEM
        static let batchBegin: UInt16 = 0x10              // NFNL_MSG_BATCH_BEGIN
        static let batchEnd: UInt16 = 0x11                // NFNL_MSG_BATCH_END
        static let bridgeFamily: UInt8 = 7                // NFPROTO_BRIDGE
        static let listTable: UInt16 = 1                  // NFTA_SET_ELEM_LIST_TABLE
        static let listSet: UInt16 = 2                    // NFTA_SET_ELEM_LIST_SET
        static let listElements: UInt16 = 3               // NFTA_SET_ELEM_LIST_ELEMENTS
        static let listElement: UInt16 = 1                // NFTA_LIST_ELEM
        static let elementKey: UInt16 = 1                 // NFTA_SET_ELEM_KEY
        static let dataValue: UInt16 = 1                  // NFTA_DATA_VALUE
        static let interfaceNameSize = 16                 // IFNAMSIZ
    }

    init() throws(BerthError) {
        do {
            socket = try NetlinkSocket(family: NetlinkFamily.netfilter, receiveTimeout: .seconds(10))
        } catch {
            throw BerthError(.kernel, "cannot open a netfilter netlink socket", cause: error)
        }
    }

    /// Removes `removing`'s elements and adds `adding`'s, all or nothing.
    func apply(removing: [GuardedEndpoint], adding: [GuardedEndpoint]) throws(BerthError) {
        let messages = Self.messages(removing, type: Nft.deleteElements) + Self.messages(adding, type: Nft.newElements)
        guard !messages.isEmpty else { return }
        let first = sequence
        var bytes = Self.batchMarker(Nft.batchBegin).encoded(sequence: first)
        for (offset, message) in messages.enumerated() {
            bytes += message.encoded(sequence: first &+ 1 &+ UInt32(offset))
        }
        let last = first &+ UInt32(messages.count)
        bytes += Self.batchMarker(Nft.batchEnd).encoded(sequence: last &+ 1)
        sequence = last &+ 2
        do {
            try socket.send(bytes)
            try awaitAck(first: first, last: last)
        } catch let error as BerthError {
            throw error
        } catch {
            throw BerthError(.kernel, "nftables refused berth's guard elements", cause: error)
        }
    }

    /// Reads replies until the last message's ack: a failing message's error comes
    /// first (and the kernel then drops the whole batch); reading on to the ack keeps
    /// no stale reply in the socket for the next batch.
    private func awaitAck(first: UInt32, last: UInt32) throws {
        var failure: Int32 = 0
        while true {
            for reply in try ReceivedMessage.split(socket.receive())
            where reply.type == MessageType.error && reply.sequence >= first && reply.sequence <= last {
                let status = try AckStatus(errorMessage: reply)
                if failure == 0 { failure = status.errno }
                guard reply.sequence == last else { continue }
                if failure != 0 {
                    throw NetlinkError(operation: "change berth's guard elements", errno: failure,
                                       kernelMessage: status.kernelMessage)
                }
                return
            }
        }
    }

    private static func batchMarker(_ type: UInt16) -> NetlinkMessage {
        // nfgenmsg: AF_UNSPEC, version 0, res_id = the nf_tables subsystem (big-endian).
        NetlinkMessage(type: type, flags: 0x01, header: [0, 0, 0, UInt8(Nft.subsystem)])
    }

    /// One message per set that has elements; the last one asks for the ack.
    private static func messages(_ endpoints: [GuardedEndpoint], type: UInt16) -> [NetlinkMessage] {
        let sorted = endpoints.sorted { $0.port < $1.port }
        let isNew = type == Nft.newElements
        return GuardSet.allCases.compactMap { set -> NetlinkMessage? in
            let keys = sorted.flatMap { set.keys(of: $0) }
            guard !keys.isEmpty else { return nil }
            var attributes = AttributeWriter()
            attributes.append(Nft.listTable, string: Ruleset.table)
            attributes.append(Nft.listSet, string: set.rawValue)
            attributes.nest(Nft.listElements) { list in
                for key in keys {
                    list.nest(Nft.listElement) { element in
                        element.nest(Nft.elementKey) { $0.append(Nft.dataValue, bytes: key) }
                    }
                }
            }
            // NLM_F_REQUEST | NLM_F_ACK, and NLM_F_CREATE for new elements (an existing
            // one is no error, as with `nft add element`).
            let flags: UInt16 = 0x01 | 0x04 | (isNew ? 0x400 : 0)
            return NetlinkMessage(type: Nft.subsystem << 8 | type, flags: flags,
                                  header: [Nft.bridgeFamily, 0, 0, 0], attributes: attributes)
        }
    }

    /// The port's name as nft's `ifname` type holds it: 16 bytes, zero-padded.
    static func interfaceName(_ name: String) -> [UInt8] {
        let bytes = Array(name.utf8.prefix(Nft.interfaceNameSize))
        return bytes + [UInt8](repeating: 0, count: Nft.interfaceNameSize - bytes.count)
    }
}

extension GuardSet {
    /// The binary keys of an endpoint's elements in this set (see `elements(of:)` for
    /// the same in nft's language).
    func keys(of endpoint: GuardedEndpoint) -> [[UInt8]] {
        let port = GuardBatch.interfaceName(endpoint.port)
        let mac = endpoint.mac.bytes + [0, 0]  // 6 bytes, padded to the register's 4-byte step
        switch self {
        case .guardedPorts: return [port]
        case .portMAC, .portLinkLayer: return [port + mac]
        case .portIPv4: return endpoint.ipv4.map { [port + mac + $0.bytes] } ?? []
        case .portIPv6: return endpoint.ipv6Addresses.map { port + mac + $0.bytes }
        case .portNDTarget: return endpoint.ipv6Addresses.map { port + $0.bytes }
        }
    }
}

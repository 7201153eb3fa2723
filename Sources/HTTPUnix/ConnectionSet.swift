import NIOCore
import Synchronization

/// Open connections: so shutdown can close them, and so no client can hold more than `limit`
/// of the daemon's descriptors.
///
/// At the limit a new connection takes the place of the one that has waited longest for a
/// request (idle keep-alive connections, half-sent heads): a flood of silent connections then
/// costs the flooder its own oldest ones while any new client still gets through. Connections
/// busy with a request, a stream or a hijacked session are never taken.
final class ConnectionSet: Sendable {
    private struct Entry {
        let channel: any Channel
        /// When it started waiting for a request; nil while busy.
        var idleSince: NIODeadline?
    }

    let limit: Int
    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Takes `channel` in, making room if needed; nil when every connection is busy.
    func admit(_ channel: any Channel) -> ConnectionSlot? {
        let id = ObjectIdentifier(channel)
        let limit = self.limit
        let outcome: (admitted: Bool, evicted: (any Channel)?) = entries.withLock { all in
            var evicted: (any Channel)?
            if all.count >= limit {
                let oldest = all.compactMap { key, entry in entry.idleSince.map { (key, $0) } }.min { $0.1 < $1.1 }
                guard let key = oldest?.0, let entry = all.removeValue(forKey: key) else { return (false, nil) }
                evicted = entry.channel
            }
            // A new connection waits for its first request: it is idle from the start.
            all[id] = Entry(channel: channel, idleSince: .now())
            return (true, evicted)
        }
        outcome.evicted?.close(promise: nil)
        guard outcome.admitted else { return nil }
        channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.entries.withLock { $0.removeValue(forKey: id) }
        }
        return ConnectionSlot(set: self, id: id)
    }

    fileprivate func setIdle(_ id: ObjectIdentifier, _ idle: Bool) {
        entries.withLock { all in
            guard all[id] != nil else { return }
            all[id]?.idleSince = idle ? .now() : nil
        }
    }

    var count: Int { entries.withLock { $0.count } }

    func removeAll() -> [any Channel] {
        entries.withLock { all in
            defer { all.removeAll() }
            return all.values.map(\.channel)
        }
    }
}

/// One connection's place in its `ConnectionSet`, through which it says when it is idle.
struct ConnectionSlot: Sendable {
    fileprivate let set: ConnectionSet
    fileprivate let id: ObjectIdentifier

    /// Idle: waiting for a request, so it may make room for a new connection.
    func setIdle(_ idle: Bool) {
        set.setIdle(id, idle)
    }
}

/// The connection was refused: the limit is reached and every connection is busy.
struct ConnectionLimitReached: Error {}

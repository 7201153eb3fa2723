import BerthCore
import NIOCore

enum Transport {
    case udp
    case tcp

    var framed: Bool { self == .tcp }
}

/// What to do with one incoming packet.
enum Outcome {
    case reply(ByteBuffer)
    /// Not a local name: relay to `upstreams`. The handler keeps the packet.
    case forward(Query, upstreams: [SocketAddress])
    case drop
}

/// Answers queries from a snapshot. One per channel handler, so its scratch name buffer and
/// round-robin counter need no locking and the local-answer path allocates only the reply.
struct Resolver {
    let ttl: UInt32
    private var name: [UInt8] = []
    private var rotation: UInt = 0
    private var union: [IPAddress] = []
    /// A reply buffer handed back with `recycle`, written again by the next reply.
    private var spare: ByteBuffer?

    init(ttl: UInt32) {
        self.ttl = ttl
        name.reserveCapacity(NameCodec.maxNameLength)
    }

    mutating func respond(
        to packet: ByteBuffer, from source: IPAddress?, snapshot: Snapshot, transport: Transport,
        allocator: ByteBufferAllocator
    ) -> Outcome {
        packet.withUnsafeReadableBytes { bytes in
            respond(to: bytes, from: source, snapshot: snapshot, transport: transport, allocator: allocator)
        }
    }

    mutating func respond(
        to packet: UnsafeRawBufferPointer, from source: IPAddress?, snapshot: Snapshot, transport: Transport,
        allocator: ByteBufferAllocator
    ) -> Outcome {
        let query: Query
        switch QueryParser.parse(packet, name: &name) {
        case .drop:
            return .drop
        case .reject(let id, let flags, let code):
            return .reply(ResponseWriter.headerOnly(
                id: id, queryFlags: flags, code: code, framed: transport.framed, allocator: allocator))
        case .query(let parsed):
            query = parsed
        }
        let limit = transport == .tcp ? Int(UInt16.max) : query.udpLimit
        let reusing = spare
        spare = nil  // so the buffer is uniquely referenced again once the writer has it
        var writer = ResponseWriter(
            query: query, packet: packet, framed: transport.framed, limit: limit, allocator: allocator, reusing: reusing)

        if query.ednsVersion != 0 {
            // RFC 6891 §6.1.3: only version 0 exists; BADVERS is extended RCODE 16 = (1 << 4) | 0.
            return .reply(writer.finish(.noError, authoritative: false, recursionAvailable: false, extendedCode: 1))
        }
        guard let source, let scope = snapshot.scopes[source] else {
            // Not a container we know: we are nobody's open resolver.
            return .reply(writer.finish(.refused, authoritative: false, recursionAvailable: false))
        }

        if query.recordClass == RecordClass.internet || query.recordClass == RecordClass.any {
            if query.type == RecordType.ptr || query.type == RecordType.any,
               let address = ReverseName.address(fromKey: name),
               answerPointers(for: address, in: scope, writer: &writer) {
                return .reply(writer.finish(.noError, authoritative: true, recursionAvailable: scope.mayForward))
            }
            if let addresses = lookup(in: scope) {
                appendAddresses(addresses, type: query.type, writer: &writer)
                // A known name with nothing of the asked type is NOERROR with no answers (RFC 2308 §2.2).
                return .reply(writer.finish(.noError, authoritative: true, recursionAvailable: scope.mayForward))
            }
        }

        guard scope.mayForward else {
            // Only on internal networks: the outside world is off limits by policy, which is
            // what REFUSED says. Resolvers then fail at once instead of retrying as after SERVFAIL.
            return .reply(writer.finish(.refused, authoritative: false, recursionAvailable: false))
        }
        guard !scope.upstreams.isEmpty else {
            return .reply(writer.finish(.serverFailure, authoritative: false, recursionAvailable: true))
        }
        return .forward(query, upstreams: scope.upstreams)
    }

    /// Gives back a reply buffer once its bytes have been sent or copied, for the next reply.
    mutating func recycle(_ buffer: consuming ByteBuffer) {
        spare = buffer
    }

    /// The addresses for the parsed name across the requester's networks, or nil when none
    /// has it. One network (the common case) returns its stored array without copying.
    private mutating func lookup(in scope: Snapshot.Scope) -> [IPAddress]? {
        var first: [IPAddress]? = nil
        var merged = false
        for network in scope.networks {
            guard let addresses = network.names[name] else { continue }
            if first == nil {
                first = addresses
                continue
            }
            if !merged, let first {
                union.removeAll(keepingCapacity: true)
                union.append(contentsOf: first)
                merged = true
            }
            for address in addresses where !union.contains(address) {
                union.append(address)
            }
        }
        return merged ? union : first
    }

    private mutating func appendAddresses(_ addresses: [IPAddress], type: UInt16, writer: inout ResponseWriter) {
        let wantV4 = type == RecordType.a || type == RecordType.any
        let wantV6 = type == RecordType.aaaa || type == RecordType.any
        guard wantV4 || wantV6 else { return }
        let count = addresses.count
        // Round robin: each query starts one further along, so clients that take the first
        // address spread over the containers sharing an alias.
        var start = 0
        if count > 1 {
            rotation &+= 1
            start = Int(rotation % UInt(count))
        }
        for step in 0..<count {
            let address = addresses[(start + step) % count]
            if address.isIPv4 ? wantV4 : wantV6 {
                guard writer.appendAddress(address, ttl: ttl) else { return }
            }
        }
    }

    private func answerPointers(for address: IPAddress, in scope: Snapshot.Scope, writer: inout ResponseWriter) -> Bool {
        var written: [[UInt8]] = []
        for network in scope.networks {
            guard let targets = network.reverse[address] else { continue }
            for target in targets where !written.contains(target) {
                written.append(target)
                guard writer.appendPointer(to: target, ttl: ttl) else { return true }
            }
        }
        return !written.isEmpty
    }
}

extension Resolver {
    /// `respond` without NIO types in the result, for tests and tools.
    enum Answer: Equatable {
        case reply([UInt8])
        /// Upstreams as "address:port".
        case forward(upstreams: [String])
        case drop
    }

    mutating func answer(_ packet: [UInt8], from source: IPAddress?, snapshot: Snapshot, overTCP: Bool = false) -> Answer {
        let outcome = packet.withUnsafeBytes { bytes in
            respond(to: bytes, from: source, snapshot: snapshot, transport: overTCP ? .tcp : .udp, allocator: ByteBufferAllocator())
        }
        switch outcome {
        case .drop:
            return .drop
        case .reply(let buffer):
            return .reply(Array(buffer.readableBytesView))
        case .forward(_, let upstreams):
            return .forward(upstreams: upstreams.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" })
        }
    }
}

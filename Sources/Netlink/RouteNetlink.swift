import BerthCore
import Glibc

/// An rtnetlink session over one transport: numbers requests, matches replies to them,
/// and turns kernel errors into `NetlinkError`s that name the operation.
///
/// Not Sendable: use it from one thread or actor at a time. Like its socket, it
/// configures the network namespace the socket was opened in.
public final class RouteNetlink {
    public let transport: any NetlinkTransport
    private var sequence: UInt32

    /// Batches are sent in datagrams of at most this size; the kernel reads a whole
    /// datagram into one buffer, bounded by the socket's send buffer.
    package static let maxDatagram = 32 * 1024
    /// How often a dump that the kernel flags as inconsistent (NLM_F_DUMP_INTR, the
    /// table changed while being read) is retried before giving up.
    package static let dumpAttempts = 3

    /// - Parameter initialSequence: the first request gets this plus one. Defaults to
    ///   the time, as iproute2 does, so replies left over from an earlier session on the
    ///   same socket look stale rather than current.
    public init(transport: any NetlinkTransport, initialSequence: UInt32? = nil) {
        self.transport = transport
        sequence = initialSequence ?? UInt32(truncatingIfNeeded: time(nil))
    }

    /// A session on a new `NetlinkSocket` in the calling thread's network namespace.
    public convenience init() throws {
        try self.init(transport: NetlinkSocket())
    }

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        if sequence == 0 { sequence = 1 } // 0 is what kernel notifications carry
        return sequence
    }

    // MARK: - Exchanges

    /// Sends one request and waits for its acknowledgement. Returns the messages that
    /// answered it before the ack: the object for a get, the new link for NLM_F_ECHO.
    @discardableResult
    public func exchange(_ request: NetlinkRequest) throws -> [ReceivedMessage] {
        guard !request.isDump else { return try dump(request) }
        let sequence = nextSequence()
        try send(request.encoded(sequence: sequence), request.operation)
        var answers: [ReceivedMessage] = []
        while true {
            for message in try receiveMessages(request.operation) {
                guard try isCurrent(message.sequence, first: sequence, count: 1, request.operation) else { continue }
                switch message.type {
                case MessageType.error:
                    let status = try ackStatus(message, request.operation)
                    if status.errno != 0 { throw NetlinkError(operation: request.operation, status) }
                    return answers
                case MessageType.done:
                    return answers
                case MessageType.noop:
                    continue
                case MessageType.overrun:
                    throw NetlinkError(operation: request.operation, errno: ENOBUFS, detail: "netlink overrun")
                default:
                    answers.append(message)
                }
            }
        }
    }

    /// Sends one request and waits for its acknowledgement.
    public func perform(_ request: NetlinkRequest) throws {
        try exchange(request)
    }

    /// Sends several requests back to back (in as few datagrams as fit), then collects
    /// every acknowledgement. The kernel processes each request independently, so all
    /// are attempted even when one fails; the first failure, in request order, is thrown
    /// with its operation's name, after all replies have been read.
    public func perform(_ requests: [NetlinkRequest]) throws {
        if requests.count <= 1 {
            if let request = requests.first { try perform(request) }
            return
        }
        if let dump = requests.first(where: \.isDump) {
            throw NetlinkError(operation: dump.operation, errno: EINVAL, detail: "a dump cannot be batched")
        }
        // Reserve consecutive sequence numbers; restart from 1 rather than wrap
        // through 0 inside a batch.
        var first = nextSequence()
        if first > UInt32.max - UInt32(requests.count) {
            sequence = 0
            first = nextSequence()
        }
        sequence = first + UInt32(requests.count - 1)

        var datagram: [UInt8] = []
        for (offset, request) in requests.enumerated() {
            let bytes = request.encoded(sequence: first &+ UInt32(offset))
            if !datagram.isEmpty, datagram.count + bytes.count > Self.maxDatagram {
                try send(datagram, request.operation)
                datagram.removeAll(keepingCapacity: true)
            }
            datagram += bytes
        }
        try send(datagram, requests[requests.count - 1].operation)

        var answered = [Bool](repeating: false, count: requests.count)
        var remaining = requests.count
        var firstFailure: (offset: Int, error: NetlinkError)?
        let batchName = "batch of \(requests.count) requests"
        while remaining > 0 {
            for message in try receiveMessages(batchName) {
                guard try isCurrent(message.sequence, first: first, count: requests.count, batchName),
                      message.type == MessageType.error else { continue }
                let offset = Int(message.sequence &- first)
                guard !answered[offset] else { continue }
                answered[offset] = true
                remaining -= 1
                let status = try ackStatus(message, requests[offset].operation)
                if status.errno != 0, firstFailure.map({ offset < $0.offset }) ?? true {
                    firstFailure = (offset, NetlinkError(operation: requests[offset].operation, status))
                }
            }
        }
        if let firstFailure { throw firstFailure.error }
    }

    /// Runs a dump request and returns every message of it, up to NLMSG_DONE. Retried
    /// when the kernel marks the dump inconsistent.
    public func dump(_ request: NetlinkRequest) throws -> [ReceivedMessage] {
        for _ in 0..<Self.dumpAttempts {
            let sequence = nextSequence()
            try send(request.encoded(sequence: sequence), request.operation)
            var messages: [ReceivedMessage] = []
            var interrupted = false
            receiving: while true {
                for message in try receiveMessages(request.operation) {
                    guard try isCurrent(message.sequence, first: sequence, count: 1, request.operation) else { continue }
                    if message.flags & Flag.dumpInterrupted != 0 { interrupted = true }
                    switch message.type {
                    case MessageType.done:
                        let status = try doneStatus(message, request.operation)
                        if status.errno != 0 { throw NetlinkError(operation: request.operation, status) }
                        break receiving
                    case MessageType.error:
                        let status = try ackStatus(message, request.operation)
                        if status.errno != 0 { throw NetlinkError(operation: request.operation, status) }
                        break receiving
                    case MessageType.noop:
                        continue
                    case MessageType.overrun:
                        throw NetlinkError(operation: request.operation, errno: ENOBUFS, detail: "netlink overrun")
                    default:
                        messages.append(message)
                    }
                }
            }
            if !interrupted { return messages }
        }
        throw NetlinkError(
            operation: request.operation, errno: EAGAIN,
            detail: "the table changed during each of \(Self.dumpAttempts) dumps")
    }

    // MARK: - Plumbing

    /// Whether a reply belongs to the exchange in flight (sequence numbers
    /// first..<first+count). Older ones are leftovers of an exchange that was abandoned
    /// (an error thrown mid-dump, a timeout) and are skipped; newer ones mean the
    /// stream is out of step, which is an error.
    private func isCurrent(_ received: UInt32, first: UInt32, count: Int, _ operation: String) throws -> Bool {
        let distance = received &- first
        if distance < UInt32(count) { return true }
        if received == 0 || Int32(bitPattern: distance) < 0 { return false }
        throw NetlinkError(
            operation: operation, errno: EPROTO,
            detail: "reply with sequence \(received) while waiting for \(first)")
    }

    private func send(_ bytes: [UInt8], _ operation: String) throws {
        do {
            try transport.send(bytes)
        } catch let error as NetlinkError {
            throw error.during(operation)
        }
    }

    private func receiveMessages(_ operation: String) throws -> [ReceivedMessage] {
        let datagram: [UInt8]
        do {
            datagram = try transport.receive()
        } catch let error as NetlinkError {
            throw error.during(operation)
        }
        do {
            return try ReceivedMessage.split(datagram)
        } catch {
            throw NetlinkError(operation: operation, errno: EBADMSG, detail: error.description)
        }
    }

    private func ackStatus(_ message: ReceivedMessage, _ operation: String) throws -> AckStatus {
        do {
            return try AckStatus(errorMessage: message)
        } catch {
            throw NetlinkError(operation: operation, errno: EBADMSG, detail: error.description)
        }
    }

    private func doneStatus(_ message: ReceivedMessage, _ operation: String) throws -> AckStatus {
        do {
            return try AckStatus(doneMessage: message)
        } catch {
            throw NetlinkError(operation: operation, errno: EBADMSG, detail: error.description)
        }
    }

    /// Parses replies with `parse`, naming the operation if one is malformed.
    package func parse<T>(
        _ messages: [ReceivedMessage], _ operation: String,
        _ parse: (ReceivedMessage) throws(NetlinkParseError) -> T
    ) throws -> [T] {
        do {
            return try messages.map { (message) throws(NetlinkParseError) in try parse(message) }
        } catch {
            throw NetlinkError(operation: operation, errno: EBADMSG, detail: error.description)
        }
    }
}

extension NetlinkError {
    init(operation: String, _ status: AckStatus) {
        self.init(operation: operation, errno: status.errno, kernelMessage: status.kernelMessage)
    }

    /// The same failure, named after the operation that was under way; the socket call
    /// that failed moves into the detail.
    func during(_ operation: String) -> NetlinkError {
        var error = self
        error.detail = [self.operation, detail].compactMap { $0 }.joined(separator: ": ")
        error.operation = operation
        return error
    }
}

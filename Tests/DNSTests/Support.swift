import BerthCore
@testable import DNS
import Foundation
import Glibc
import Synchronization

// MARK: Building queries

/// Wire bytes for a name, uncompressed, case kept.
func wireName(_ name: String) -> [UInt8] {
    var bytes: [UInt8] = []
    for label in name.split(separator: ".") {
        bytes.append(UInt8(label.utf8.count))
        bytes += Array(label.utf8)
    }
    return bytes + [0]
}

/// A standard query (RD set) for one question, optionally with an OPT record.
func makeQuery(
    id: UInt16 = 0x1234, name: String, type: UInt16 = 1, recordClass: UInt16 = 1, flags: UInt16 = 0x0100,
    ednsSize: UInt16? = nil, ednsVersion: UInt8 = 0
) -> [UInt8] {
    var bytes = be16(id) + be16(flags) + be16(1) + be16(0) + be16(0) + be16(ednsSize == nil ? 0 : 1)
    bytes += wireName(name) + be16(type) + be16(recordClass)
    if let ednsSize {
        bytes += [0] + be16(41) + be16(ednsSize) + [0, ednsVersion, 0x80, 0] + be16(0)
    }
    return bytes
}

func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }

// MARK: Reading responses (independent of the code under test)

struct DecodedRecord: Equatable {
    var name: String
    var type: UInt16
    var ttl: UInt32
    var data: [UInt8]
    /// For PTR records: the target name.
    var target: String?
}

struct DecodedResponse {
    var id: UInt16
    var flags: UInt16
    var questionCount: Int
    var answers: [DecodedRecord]
    var additional: [DecodedRecord]
    var questionName: String?

    var rcode: Int { Int(flags & 0xf) }
    var isResponse: Bool { flags & 0x8000 != 0 }
    var truncated: Bool { flags & 0x0200 != 0 }
    var authoritative: Bool { flags & 0x0400 != 0 }

    /// Addresses from A/AAAA answers, in order.
    var addresses: [String] {
        answers.compactMap { record in
            switch record.type {
            case 1: IPv4Address(bytes: record.data).map { $0.description }
            case 28: IPv6Address(bytes: record.data).map { $0.description }
            default: nil
            }
        }
    }
}

enum DecodeError: Error { case bad(String) }

func decodeResponse(_ bytes: [UInt8]) throws -> DecodedResponse {
    func u16(_ at: Int) throws -> UInt16 {
        guard at + 2 <= bytes.count else { throw DecodeError.bad("short at \(at)") }
        return UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
    }
    func name(_ start: Int) throws -> (String, Int) {
        var labels: [String] = []
        var at = start
        var end: Int? = nil
        var hops = 0
        while true {
            guard at < bytes.count else { throw DecodeError.bad("name out of bounds") }
            let length = Int(bytes[at])
            if length == 0 { return (labels.joined(separator: ".") + ".", end ?? at + 1) }
            if length & 0xc0 == 0xc0 {
                hops += 1
                guard hops < 64 else { throw DecodeError.bad("loop") }
                if end == nil { end = at + 2 }
                at = Int(try u16(at) & 0x3fff)
                continue
            }
            guard at + 1 + length <= bytes.count else { throw DecodeError.bad("label out of bounds") }
            labels.append(String(decoding: bytes[(at + 1)...(at + length)], as: UTF8.self))
            at += 1 + length
        }
    }
    let qd = Int(try u16(4)), an = Int(try u16(6)), ns = Int(try u16(8)), ar = Int(try u16(10))
    var offset = 12
    var questionName: String?
    for _ in 0..<qd {
        let (text, end) = try name(offset)
        questionName = text
        offset = end + 4
    }
    func records(_ count: Int) throws -> [DecodedRecord] {
        var result: [DecodedRecord] = []
        for _ in 0..<count {
            let (owner, end) = try name(offset)
            let type = try u16(end)
            let ttl = UInt32(try u16(end + 4)) << 16 | UInt32(try u16(end + 6))
            let length = Int(try u16(end + 8))
            guard end + 10 + length <= bytes.count else { throw DecodeError.bad("rdata out of bounds") }
            let data = Array(bytes[(end + 10)..<(end + 10 + length)])
            let target = type == 12 ? try name(end + 10).0 : nil
            result.append(DecodedRecord(name: owner, type: type, ttl: ttl, data: data, target: target))
            offset = end + 10 + length
        }
        return result
    }
    let answers = try records(an)
    _ = try records(ns)
    let additional = try records(ar)
    guard offset == bytes.count else { throw DecodeError.bad("trailing bytes") }
    return DecodedResponse(
        id: try u16(0), flags: try u16(2), questionCount: qd, answers: answers, additional: additional,
        questionName: questionName)
}

// MARK: Records used across tests

let netA = "net-a", netB = "net-b", netInternal = "net-internal"
let webA = IPAddress("10.1.0.2")!, dbA = IPAddress("10.1.0.3")!, dbB = IPAddress("10.2.0.3")!
let onlyB = IPAddress("10.2.0.9")!, isolated = IPAddress("10.3.0.2")!, web6 = IPAddress("fd00:1::2")!
let containerID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/// web on A (v4 + v6, alias "frontend"); db on A and B; spy only on B; iso only on an internal network.
func sampleRecords() -> DNSRecords {
    var records = DNSRecords()
    records.addNetwork(netA)
    records.addNetwork(netB)
    records.addNetwork(netInternal, isInternal: true)
    records.addContainer(id: containerID, name: "web", endpoints: [
        DNSEndpoint(network: netA, addresses: [webA, web6], aliases: ["frontend"]),
    ])
    records.addContainer(id: "fedcba9876543210", name: "db", endpoints: [
        DNSEndpoint(network: netA, addresses: [dbA]),
        DNSEndpoint(network: netB, addresses: [dbB], aliases: ["store"]),
    ])
    records.addContainer(id: "5555555555555555", name: "spy", endpoints: [
        DNSEndpoint(network: netB, addresses: [onlyB]),
    ])
    records.addContainer(id: "6666666666666666", name: "iso", endpoints: [
        DNSEndpoint(network: netInternal, addresses: [isolated]),
    ])
    return records
}

let daemonUpstream = DNSUpstream(IPAddress("192.0.2.53")!, port: 5300)

// MARK: Sockets for live tests

/// Deterministic random numbers (SplitMix64), so fuzz failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

func makeAddress(_ ip: String, _ port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, ip, &address.sin_addr)
    return address
}

func withSockaddr<T>(_ address: sockaddr_in, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = address
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

func setTimeout(_ fd: Int32, milliseconds: Int) {
    var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
}

/// Sends one UDP query from `source` and waits for the answer; nil on timeout.
func udpExchange(_ query: [UInt8], server: String = "127.0.0.1", port: Int, source: String = "127.0.0.1",
                 timeoutMilliseconds: Int = 3000) -> [UInt8]? {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    setTimeout(fd, milliseconds: timeoutMilliseconds)
    guard withSockaddr(makeAddress(source, 0), { bind(fd, $0, $1) }) == 0 else { return nil }
    let sent = query.withUnsafeBytes { bytes in
        withSockaddr(makeAddress(server, port)) { sendto(fd, bytes.baseAddress, bytes.count, 0, $0, $1) }
    }
    guard sent == query.count else { return nil }
    var buffer = [UInt8](repeating: 0, count: 65536)
    let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    return received > 0 ? Array(buffer[0..<received]) : nil
}

/// Sends queries over one TCP connection (each length-prefixed) and reads as many answers.
func tcpExchange(_ queries: [[UInt8]], server: String = "127.0.0.1", port: Int) -> [[UInt8]]? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    setTimeout(fd, milliseconds: 3000)
    guard withSockaddr(makeAddress(server, port), { connect(fd, $0, $1) }) == 0 else { return nil }
    var out: [UInt8] = []
    for query in queries { out += be16(UInt16(query.count)) + query }
    guard out.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == out.count else { return nil }
    var stream: [UInt8] = []
    var answers: [[UInt8]] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while answers.count < queries.count {
        while stream.count >= 2, stream.count >= 2 + (Int(stream[0]) << 8 | Int(stream[1])) {
            let length = Int(stream[0]) << 8 | Int(stream[1])
            answers.append(Array(stream[2..<(2 + length)]))
            stream.removeFirst(2 + length)
        }
        if answers.count == queries.count { break }
        let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard received > 0 else { return nil }
        stream += chunk[0..<received]
    }
    return answers
}

/// A port that was free a moment ago (for dnsmasq, which needs one up front).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    _ = withSockaddr(makeAddress("127.0.0.1", 0)) { bind(fd, $0, $1) }
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A tiny upstream DNS server on 127.0.0.1 (UDP and TCP, same port) running on its own
/// thread: answers every A query with `answer`, or stays silent, and counts what it saw.
final class FakeUpstream: Sendable {
    enum Mode: Sendable {
        case answer(IPv4Address)
        case silent
        case servfail
        /// Over UDP: TC set and no answer; over TCP: the answer.
        case truncatingUDP(IPv4Address)
        /// This many A records, over either transport, ignoring any size limit.
        case oversized(Int)
    }

    let port: Int
    private let udp: Int32
    private let tcp: Int32
    private let mode: Mode
    private let state = Mutex<(stopped: Bool, udpQueries: Int, tcpQueries: Int, lastID: UInt16?)>((false, 0, 0, nil))
    private let done = DispatchSemaphore(value: 0)

    var udpQueries: Int { state.withLock { $0.udpQueries } }
    var tcpQueries: Int { state.withLock { $0.tcpQueries } }
    var lastID: UInt16? { state.withLock { $0.lastID } }
    var upstream: DNSUpstream { DNSUpstream(IPAddress("127.0.0.1")!, port: port) }

    init(_ mode: Mode) {
        self.mode = mode
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        _ = withSockaddr(makeAddress("127.0.0.1", 0)) { bind(udp, $0, $1) }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(udp, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        var one: Int32 = 1
        setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = withSockaddr(makeAddress("127.0.0.1", port)) { bind(tcp, $0, $1) }
        listen(tcp, 16)
        self.udp = udp
        self.tcp = tcp
        self.port = port
        let thread = Thread { [self] in run() }
        thread.start()
    }

    func stop() {
        state.withLock { $0.stopped = true }
        done.wait()
        close(udp)
        close(tcp)
    }

    private func reply(to query: [UInt8], overTCP: Bool) -> [UInt8]? {
        guard query.count >= 12 else { return nil }
        state.withLock { $0.lastID = UInt16(query[0]) << 8 | UInt16(query[1]) }
        // Question end: walk the (uncompressed) name.
        var end = 12
        while end < query.count, query[end] != 0 { end += Int(query[end]) + 1 }
        end += 5
        guard end <= query.count else { return nil }
        switch mode {
        case .silent:
            return nil
        case .servfail:
            return Array(query[0..<2]) + [0x81, 0x82] + be16(1) + be16(0) + be16(0) + be16(0) + Array(query[12..<end])
        case .truncatingUDP where !overTCP:
            return Array(query[0..<2]) + [0x83, 0x80] + be16(1) + be16(0) + be16(0) + be16(0) + Array(query[12..<end])
        case .oversized(let count):
            var answer = Array(query[0..<2]) + [0x81, 0x80] + be16(1) + be16(UInt16(count)) + be16(0) + be16(0)
            answer += Array(query[12..<end])
            for index in 0..<count {
                answer += [0xc0, 0x0c] + be16(1) + be16(1) + [0, 0, 0, 30] + be16(4) + [10, 5, 0, UInt8(index)]
            }
            return answer
        case .answer(let address), .truncatingUDP(let address):
            return Array(query[0..<2]) + [0x81, 0x80] + be16(1) + be16(1) + be16(0) + be16(0) + Array(query[12..<end])
                + [0xc0, 0x0c] + be16(1) + be16(1) + [0, 0, 0, 30] + be16(4) + address.bytes
        }
    }

    private func run() {
        defer { done.signal() }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !state.withLock({ $0.stopped }) {
            var fds = [pollfd(fd: udp, events: Int16(POLLIN), revents: 0), pollfd(fd: tcp, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, 20) > 0 else { continue }
            if fds[0].revents != 0 {
                var from = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let count = buffer.withUnsafeMutableBytes { bytes in
                    withUnsafeMutablePointer(to: &from) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            recvfrom(udp, bytes.baseAddress, bytes.count, 0, $0, &length)
                        }
                    }
                }
                if count > 0 {
                    state.withLock { $0.udpQueries += 1 }
                    if let answer = reply(to: Array(buffer[0..<count]), overTCP: false) {
                        _ = answer.withUnsafeBytes { bytes in
                            withUnsafePointer(to: &from) {
                                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                    sendto(udp, bytes.baseAddress, bytes.count, 0, $0, length)
                                }
                            }
                        }
                    }
                }
            }
            if fds[1].revents != 0 {
                let connection = accept(tcp, nil, nil)
                guard connection >= 0 else { continue }
                setTimeout(connection, milliseconds: 1000)
                var stream: [UInt8] = []
                while stream.count < 2 || stream.count < 2 + (Int(stream[0]) << 8 | Int(stream[1])) {
                    let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                    guard count > 0 else { break }
                    stream += buffer[0..<count]
                }
                if stream.count >= 2 {
                    state.withLock { $0.tcpQueries += 1 }
                    if let answer = reply(to: Array(stream.dropFirst(2)), overTCP: true) {
                        let framed = be16(UInt16(answer.count)) + answer
                        _ = framed.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) }
                    }
                }
                close(connection)
            }
        }
    }
}

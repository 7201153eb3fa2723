import BerthCore
import Foundation
import Glibc
import Logging
import NIOCore
import NIOPosix
import Testing
@testable import PortRelay

/// The relay between loopback sockets: no root needed.
@Suite struct PortRelayTests {
    /// A bound socket on 127.0.0.1 with a port the kernel chose, as berth's reservation holds one.
    func boundSocket(_ type: Int32) throws -> (descriptor: Int32, port: UInt16) {
        let descriptor = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        #expect(descriptor >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return (descriptor, UInt16(bigEndian: address.sin_port))
    }

    /// Reads everything the other side sends until it closes its output.
    func readAll(_ descriptor: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { return result }
            result += buffer.prefix(count)
        }
    }

    func loopback(_ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    func connectTCP(_ port: UInt16) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopback(port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        return descriptor
    }

    @Test func relaysAStreamBothWaysWithHalfClose() throws {
        // The "container": echoes, upper-cased, once the client has finished sending.
        let (serverSocket, serverPort) = try boundSocket(Int32(SOCK_STREAM.rawValue))
        #expect(listen(serverSocket, 8) == 0)
        let server = Thread {
            let connection = accept(serverSocket, nil, nil)
            let received = self.readAll(connection)
            let answer = Array(String(decoding: received, as: UTF8.self).uppercased().utf8)
            _ = answer.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            close(connection)
        }
        server.start()
        defer { close(serverSocket) }

        let relay = PortRelay(logger: Logger(label: "test"))
        let (published, port) = try boundSocket(Int32(SOCK_STREAM.rawValue))
        try relay.serve(key: "tcp", descriptor: published, transport: .tcp, target: .v4(IPv4Address("127.0.0.1")!), port: serverPort)
        defer { relay.stop(key: "tcp") }

        let client = connectTCP(port)
        let payload = Array(String(repeating: "hello relay ", count: 50_000).utf8)
        _ = payload.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        shutdown(client, Int32(SHUT_WR))
        let answer = readAll(client)
        close(client)
        #expect(answer.count == payload.count)
        #expect(String(decoding: answer.prefix(12), as: UTF8.self) == "HELLO RELAY ")
        #expect(relay.servedKeys == ["tcp"])
    }

    @Test func aStoppedPortRefusesConnections() throws {
        let relay = PortRelay(logger: Logger(label: "test"))
        let (published, port) = try boundSocket(Int32(SOCK_STREAM.rawValue))
        try relay.serve(key: "tcp", descriptor: published, transport: .tcp, target: .v4(IPv4Address("127.0.0.1")!), port: 9)
        relay.stop(key: "tcp")
        Thread.sleep(forTimeInterval: 0.2)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = loopback(port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected != 0)
        #expect(relay.servedKeys.isEmpty)
    }

    @Test func relaysDatagramsAndTheirAnswers() throws {
        // The "container": answers each datagram with it reversed.
        let (serverSocket, serverPort) = try boundSocket(Int32(SOCK_DGRAM.rawValue))
        let server = Thread {
            var buffer = [UInt8](repeating: 0, count: 2048)
            var from = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            for _ in 0..<2 {
                let count = withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(serverSocket, &buffer, buffer.count, 0, $0, &length) }
                }
                guard count > 0 else { return }
                let answer = Array(buffer.prefix(count).reversed())
                _ = withUnsafePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(serverSocket, answer, answer.count, 0, $0, length) }
                }
            }
        }
        server.start()
        defer { close(serverSocket) }

        let relay = PortRelay(logger: Logger(label: "test"))
        let (published, port) = try boundSocket(Int32(SOCK_DGRAM.rawValue))
        try relay.serve(key: "udp", descriptor: published, transport: .udp, target: .v4(IPv4Address("127.0.0.1")!), port: serverPort)
        defer { relay.stop(key: "udp") }

        let client = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(client) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port)
        for word in ["abc", "berth"] {
            let bytes = Array(word.utf8)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(client, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = recv(client, &buffer, buffer.count, 0)
            #expect(count == bytes.count)
            #expect(String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self) == String(word.reversed()))
        }
    }
}

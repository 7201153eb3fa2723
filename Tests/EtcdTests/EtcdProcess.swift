import Foundation
import Glibc
import NIOConcurrencyHelpers
import Testing
@testable import Etcd

/// Live tests run only when asked: BERTH_LIVE_ETCD=1 with /usr/bin/etcd installed.
let liveEtcdRequested = ProcessInfo.processInfo.environment["BERTH_LIVE_ETCD"] == "1"

/// Loopback ports for test members: a random base per run, counted up, each checked free by
/// binding it, so parallel tests never hand etcd the same port.
enum TestPorts {
    private static let next = NIOLockedValueBox(Int.random(in: 20000..<40000))

    static func free() throws -> Int {
        for _ in 0..<200 {
            let port = next.withLockedValue { value in
                value += 1
                return value
            }
            if canBind(port) { return port }
        }
        throw TestFailure("no free loopback port")
    }

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One etcd member on loopback with its own data directory.
final class EtcdMember: @unchecked Sendable {
    // Mutable state is only touched by the test that owns the member, one step at a time.
    let name: String
    let clientPort: Int
    let peerPort: Int
    let dataDir: String
    let logPath: String
    private var process: Process?
    private var arguments: [String] = []
    /// Serve clients over TLS with these PEM files, requiring client certificates.
    var tls: (ca: String, cert: String, key: String)?

    var endpoint: EtcdEndpoint { EtcdEndpoint(host: "127.0.0.1", port: clientPort, useTLS: tls != nil) }
    var peerURL: String { "http://127.0.0.1:\(peerPort)" }
    var pid: Int32? { process?.processIdentifier }

    init(name: String, root: String) throws {
        self.name = name
        clientPort = try TestPorts.free()
        peerPort = try TestPorts.free()
        dataDir = root + "/" + name
        logPath = root + "/" + name + ".log"
    }

    /// Starts etcd; `cluster` is the `--initial-cluster` value (ignored on restarts, when
    /// the data directory already knows its cluster).
    func start(cluster: String, token: String) throws {
        arguments = [
            "--name", name,
            "--data-dir", dataDir,
            "--listen-client-urls", endpoint.description,
            "--advertise-client-urls", endpoint.description,
            "--listen-peer-urls", peerURL,
            "--initial-advertise-peer-urls", peerURL,
            "--initial-cluster", cluster,
            "--initial-cluster-token", token,
            "--initial-cluster-state", "new",
            // Fast elections so losing the leader costs a test about a second.
            "--heartbeat-interval", "50",
            "--election-timeout", "500",
            "--logger", "zap", "--log-level", "warn",
        ]
        if let tls {
            arguments += ["--trusted-ca-file", tls.ca, "--cert-file", tls.cert, "--key-file", tls.key, "--client-cert-auth"]
        }
        try launch()
    }

    /// Starts etcd again on the same ports and data.
    func restart() throws {
        try launch()
    }

    private func launch() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        process.arguments = arguments
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        defer { try? log.close() }  // etcd has its own copy of the descriptor
        try process.run()
        self.process = process
    }

    /// Kills this member's process by PID and waits for it.
    func kill(signal: Int32 = SIGKILL) {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, signal)
        process.waitUntilExit()
        self.process = nil
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// A throwaway etcd cluster of `size` members on loopback, under a temporary directory.
final class EtcdTestCluster: @unchecked Sendable {
    let root: String
    let members: [EtcdMember]

    init(size: Int, tls: TestCertificates? = nil, root presetRoot: String? = nil) throws {
        if let presetRoot {
            root = presetRoot
        } else {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-etcd-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        }
        var members: [EtcdMember] = []
        do {
            for index in 0..<size {
                let member = try EtcdMember(name: "m\(index)", root: root)
                if let tls { member.tls = (tls.ca, tls.serverCert, tls.serverKey) }
                members.append(member)
            }
            self.members = members
            let cluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
            let token = URL(fileURLWithPath: root).lastPathComponent
            for member in members { try member.start(cluster: cluster, token: token) }
        } catch {
            for member in members { member.kill() }
            try? FileManager.default.removeItem(atPath: root)
            throw error
        }
    }

    var endpoints: [EtcdEndpoint] { members.map(\.endpoint) }

    func client(timeout: Duration = .seconds(3)) throws -> EtcdClient {
        try EtcdClient(endpoints: endpoints, timeout: timeout)
    }

    /// Waits until every running member answers and one of them leads.
    func waitUntilReady(_ members: [EtcdMember]? = nil, tls: EtcdTLS? = nil, within: Duration = .seconds(20)) async throws {
        let wanted = members ?? self.members
        let probe = try EtcdClient(endpoints: wanted.map(\.endpoint), tls: tls, timeout: .seconds(1))
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            var leaders = 0
            var answered = 0
            for member in wanted {
                if let status = try? await probe.status(of: member.endpoint) {
                    answered += 1
                    if status.leader != 0 { leaders += 1 }
                }
            }
            if answered == wanted.count, leaders == wanted.count {
                await probe.close()
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        await probe.close()
        throw TestFailure("etcd not ready within \(within); logs:\n" + wanted.map { "\($0.name): \($0.log.suffix(2000))" }.joined(separator: "\n"))
    }

    /// Kills every member and removes the data. Safe to call twice.
    func destroy() {
        for member in members { member.kill() }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Runs `body` against a fresh ready cluster and destroys it afterwards, also on failure.
    static func with<T>(size: Int = 1, _ body: (EtcdTestCluster) async throws -> T) async throws -> T {
        let cluster = try EtcdTestCluster(size: size)
        defer { cluster.destroy() }
        try await cluster.waitUntilReady()
        return try await body(cluster)
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
/// The server certificate is also a client one: etcd's gateway dials its own gRPC port with it.
struct TestCertificates {
    let ca: String
    let serverCert: String
    let serverKey: String
    let clientCert: String
    let clientKey: String

    init(in directory: String) throws {
        ca = directory + "/ca.pem"
        serverCert = directory + "/server.pem"
        serverKey = directory + "/server-key.pem"
        clientCert = directory + "/client.pem"
        clientKey = directory + "/client-key.pem"
        let caKey = directory + "/ca-key.pem"
        let ext = directory + "/server.ext"
        try "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n".write(toFile: ext, atomically: true, encoding: .utf8)
        let clientExt = directory + "/client.ext"
        try "extendedKeyUsage=clientAuth\n".write(toFile: clientExt, atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", caKey, "-out", ca, "-days", "1", "-subj", "/CN=berth test CA"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", serverKey, "-out", directory + "/server.csr", "-subj", "/CN=etcd"],
            ["x509", "-req", "-in", directory + "/server.csr", "-CA", ca, "-CAkey", caKey, "-CAcreateserial",
             "-out", serverCert, "-days", "1", "-extfile", ext],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", clientKey, "-out", directory + "/client.csr", "-subj", "/CN=berthd"],
            ["x509", "-req", "-in", directory + "/client.csr", "-CA", ca, "-CAkey", caKey, "-CAcreateserial",
             "-out", clientCert, "-days", "1", "-extfile", clientExt],
        ]
        for arguments in steps {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw TestFailure("openssl \(arguments.prefix(2)) failed") }
        }
    }
}

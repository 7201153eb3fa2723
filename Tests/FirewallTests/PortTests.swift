import BerthCore
import Testing
@testable import Firewall

@Suite struct PortTests {
    @Test func parsesDockerBindings() throws {
        let plain = try PortRequest.parse(port: "80/tcp", hostIP: "", hostPort: "8080")
        #expect(plain == PortRequest(hostIP: nil, hostPorts: 8080...8080, transport: .tcp, containerPort: 80))
        let udp = try PortRequest.parse(port: "53/udp", hostIP: "127.0.0.1", hostPort: nil)
        #expect(udp == PortRequest(hostIP: IPAddress("127.0.0.1"), hostPorts: nil, transport: .udp, containerPort: 53))
        let noProto = try PortRequest.parse(port: "443", hostIP: "0.0.0.0", hostPort: "0")
        #expect(noProto == PortRequest(hostIP: nil, hostPorts: nil, transport: .tcp, containerPort: 443))
        let range = try PortRequest.parse(port: "80/tcp", hostIP: "[::1]", hostPort: "8000-8010")
        #expect(range == PortRequest(hostIP: IPAddress("::1"), hostPorts: 8000...8010, transport: .tcp, containerPort: 80))
        let anyV6 = try PortRequest.parse(port: "80/tcp", hostIP: "::", hostPort: "81")
        #expect(anyV6.hostIP == nil)
    }

    @Test(arguments: [
        ("0/tcp", "", "80"), ("65536/tcp", "", "80"), ("80/sctp", "", "80"), ("80/tcp/x", "", ""),
        ("http", "", ""), ("80/tcp", "", "0-"), ("80/tcp", "", "70000"), ("80/tcp", "", "9000-8000"),
        ("80/tcp", "300.1.1.1", "80"), ("80/tcp", "localhost", "80"), ("-1", "", ""),
    ])
    func rejectsBadSpecs(key: String, hostIP: String, hostPort: String) {
        #expect(throws: BerthError.self) { try PortRequest.parse(port: key, hostIP: hostIP, hostPort: hostPort) }
    }

    @Test func collisionsFollowAddressAndFamily() {
        let any = HostPortKey(hostIP: nil, transport: .tcp, port: 80, ipv6: false)
        let loopback = HostPortKey(hostIP: IPAddress("127.0.0.1"), transport: .tcp, port: 80, ipv6: false)
        let other = HostPortKey(hostIP: IPAddress("10.0.0.1"), transport: .tcp, port: 80, ipv6: false)
        let udp = HostPortKey(hostIP: nil, transport: .udp, port: 80, ipv6: false)
        let v6 = HostPortKey(hostIP: nil, transport: .tcp, port: 80, ipv6: true)
        #expect(any.collides(with: loopback))
        #expect(loopback.collides(with: any))
        #expect(!loopback.collides(with: other))
        #expect(!any.collides(with: udp))
        #expect(!any.collides(with: v6))
        #expect(any.description == "0.0.0.0:80/tcp")
        #expect(v6.description == "[::]:80/tcp")
    }
}

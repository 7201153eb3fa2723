import Testing
@testable import Etcd

@Suite("Endpoint URL parsing")
struct EndpointTests {
    @Test func etcdSchemeListTakesTLSFromTheCaller() throws {
        let plain = try EtcdEndpoint.parseList("etcd://10.0.0.1:2379,10.0.0.2:22379")
        #expect(plain == [
            EtcdEndpoint(host: "10.0.0.1", port: 2379, useTLS: false),
            EtcdEndpoint(host: "10.0.0.2", port: 22379, useTLS: false),
        ])
        let secure = try EtcdEndpoint.parseList("etcd://a.example:2379,b.example", tls: true)
        #expect(secure == [
            EtcdEndpoint(host: "a.example", port: 2379, useTLS: true),
            EtcdEndpoint(host: "b.example", port: 2379, useTLS: true),
        ])
    }

    @Test func httpAndHttpsSaySoThemselves() throws {
        #expect(try EtcdEndpoint.parseList("https://h:1", tls: false) == [EtcdEndpoint(host: "h", port: 1, useTLS: true)])
        #expect(try EtcdEndpoint.parseList("http://h:1", tls: true) == [EtcdEndpoint(host: "h", port: 1, useTLS: false)])
        // Each item may carry its own scheme; one without takes the previous item's.
        #expect(try EtcdEndpoint.parseList(" http://a:1, https://b:2 ,c:3/ ") == [
            EtcdEndpoint(host: "a", port: 1, useTLS: false),
            EtcdEndpoint(host: "b", port: 2, useTLS: true),
            EtcdEndpoint(host: "c", port: 3, useTLS: true),
        ])
    }

    @Test func ipv6NeedsBrackets() throws {
        #expect(try EtcdEndpoint.parseList("etcd://[::1]:2379,[fd00::2]") == [
            EtcdEndpoint(host: "::1", port: 2379),
            EtcdEndpoint(host: "fd00::2", port: 2379),
        ])
        #expect(EtcdEndpoint(host: "::1", port: 2379).description == "http://[::1]:2379")
        #expect(EtcdEndpoint(host: "::1", port: 2379).hostHeader == "[::1]:2379")
        #expect(throws: EtcdError.self) { try EtcdEndpoint.parseList("etcd://::1:2379") }
    }

    @Test(arguments: [
        ("", "empty"),
        ("   ", "empty"),
        ("127.0.0.1:2379", "no scheme"),
        ("consul://h:8500", "unknown scheme"),
        ("etcd://", "missing host"),
        ("etcd://:2379", "missing host"),
        ("etcd://h:0", "bad port"),
        ("etcd://h:65536", "bad port"),
        ("etcd://h:+80", "bad port"),
        ("etcd://h:abc", "bad port"),
        ("etcd://h:", "bad port"),
        ("etcd://h:2379/v3", "has a path"),
        ("etcd://user:pw@h:2379", "user info"),
        ("etcd://a:1,,b:2", "empty item"),
        ("etcd://[::1", "unclosed"),
        ("etcd://[::1]x", "junk after"),
        ("etcd://bad host:1", "bad host"),
    ])
    func badInputIsRejectedWithAReason(input: String, reason: String) {
        do {
            let parsed = try EtcdEndpoint.parseList(input)
            Issue.record("\"\(input)\" parsed as \(parsed)")
        } catch let error as EtcdError {
            guard case .invalidEndpoint(let text, let why) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(text == input)
            #expect(why.contains(reason), "\(why)")
            #expect(error.berthError.code == .invalidArgument)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func clientFromURL() throws {
        let client = try EtcdClient(url: "etcd://127.0.0.1:1,127.0.0.1:2", timeout: .seconds(1))
        #expect(client.endpoints.map(\.port) == [1, 2])
        #expect(throws: EtcdError.self) { try EtcdClient(endpoints: []) }
        // A CA file that isn't there fails at creation, not on the first request.
        #expect(throws: EtcdError.self) {
            try EtcdClient(url: "etcd://127.0.0.1:1", tls: EtcdTLS(caFile: "/nonexistent/ca.pem"))
        }
        #expect(throws: EtcdError.self) {
            try EtcdClient(url: "etcd://127.0.0.1:1", tls: EtcdTLS(certFile: "/nonexistent/c.pem"))
        }
    }

    @Test func unreachableStoreIsOneClearError() async throws {
        // Port 1 on loopback: nothing listens, so connecting is refused at once.
        let client = try EtcdClient(url: "etcd://127.0.0.1:1", timeout: .seconds(1))
        do {
            _ = try await client.status()
            Issue.record("status of a dead endpoint succeeded")
        } catch let error as EtcdError {
            guard case .unavailable(let path, let attempts) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(path == "/v3/maintenance/status")
            #expect(attempts.count == 1)
            #expect(error.description.contains("127.0.0.1:1"))
            #expect(error.berthError.code == .unavailable)
        }
    }
}

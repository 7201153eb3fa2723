import Foundation
import HTTPUnix
import Testing

@Suite("Client errors, raw stream framing, routing")
struct ClientAndStreamTests {
    @Test func noServerIsCannotConnect() async throws {
        let path = temporarySocketPath()
        do {
            _ = try await UnixHTTPClient(socketPath: path).request("GET", "/_ping")
            Issue.record("expected cannotConnect")
        } catch HTTPClientError.cannotConnect(let errorPath, let reason) {
            #expect(errorPath == path)
            #expect(reason.contains("no such file"))
        }

        // A socket file nobody listens on (a crashed daemon's leftover) is "connection refused".
        let server = HTTPServer(socketPath: path, router: Router())
        try await server.start()
        let listenerless = path + ".copy"
        #expect(link(path, listenerless) == 0)  // a second name for the socket inode...
        await server.shutdown()  // ...that outlives the listener
        defer { unlink(listenerless) }
        do {
            _ = try await UnixHTTPClient(socketPath: listenerless).request("GET", "/_ping")
            Issue.record("expected cannotConnect")
        } catch let error as HTTPClientError {
            guard case .cannotConnect(_, let reason) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(reason.contains("refused"))
            #expect(error.description.hasPrefix("cannot connect to unix://\(listenerless)"))
        }
    }

    @Test func serverClosingMidResponseIsAnError() async throws {
        var router = Router()
        router.add(.GET, "/broken") { _ in
            .stream { writer in
                try await writer.write("partial")
                throw CancellationError()
            }
        }
        try await withServer(router) { client, _ in
            await #expect(throws: HTTPClientError.self) {
                _ = try await client.request("GET", "/broken")
            }
        }
    }

    @Test func demultiplexerHandlesArbitraryChunking() throws {
        let stream =
            RawStream.frame(.stdout, Array("hello".utf8)) + RawStream.frame(.stderr, [])
            + RawStream.frame(.stderr, Array("oops".utf8)) + RawStream.frame(.stdout, [UInt8](repeating: 9, count: 70_000))
        for chunkSize in [1, 3, 8, 9, 1000, stream.count] {
            var demux = RawStreamDemultiplexer()
            var frames: [RawStream.Frame] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunkSize, stream.count)
                frames += try demux.feed(stream[offset..<end])
                offset = end
            }
            try demux.finish()
            #expect(frames.map(\.kind) == [.stdout, .stderr, .stderr, .stdout])
            #expect(frames[0].payload == Array("hello".utf8))
            #expect(frames[2].payload == Array("oops".utf8))
            #expect(frames[3].payload.count == 70_000)
        }
        #expect(RawStream.header(.stderr, length: 0x0102_0304) == [2, 0, 0, 0, 1, 2, 3, 4])
    }

    @Test func demultiplexerRejectsBadInput() throws {
        var demux = RawStreamDemultiplexer()
        #expect(throws: RawStreamError.invalidStreamKind(UInt8(ascii: "h"))) {
            _ = try demux.feed(Array("hello world".utf8))
        }
        var truncated = RawStreamDemultiplexer()
        _ = try truncated.feed(RawStream.frame(.stdout, Array("abc".utf8)).dropLast())
        #expect(throws: RawStreamError.truncatedFrame) { try truncated.finish() }
    }

    @Test func routerPrecedenceAndPatterns() {
        var router = Router()
        router.add(.GET, "/containers/json") { _ in .text(.ok, "list") }
        router.add(.GET, "/containers/{id}/json") { _ in .text(.ok, "inspect") }
        router.add(.DELETE, "/containers/{id}") { _ in .text(.ok, "delete") }
        router.add(.POST, "/images/{name:.*}/tag") { _ in .text(.ok, "tag") }
        router.add(.GET, "/distribution/{name*}/json") { _ in .text(.ok, "dist") }

        func params(_ method: HTTPMethod, _ path: String) -> [String: String]? {
            if case .found(_, let params, _) = router.match(method, path: path) { return params }
            return nil
        }
        #expect(params(.GET, "/containers/json") == [:])
        #expect(params(.GET, "/containers/abc/json") == ["id": "abc"])
        #expect(params(.DELETE, "/containers/json") == ["id": "json"])
        #expect(params(.POST, "/images/reg:5000/a/b:1/tag") == ["name": "reg:5000/a/b:1"])
        #expect(params(.GET, "/distribution/alpine/json") == ["name": "alpine"])
        #expect(params(.HEAD, "/containers/json") == [:])
        #expect(params(.GET, "/containers/abc/json/") == nil)
        #expect(params(.GET, "/containers//json") == nil)
        #expect(params(.POST, "/images//tag") == nil)

        if case .methodNotAllowed(let allowed) = router.match(.PUT, path: "/containers/abc") {
            #expect(allowed == [.DELETE])
        } else {
            Issue.record("expected 405")
        }
        if case .notFound = router.match(.GET, path: "/nothing") {} else { Issue.record("expected 404") }
    }
}

import Foundation
import HTTPUnix
import Testing

@Suite("HTTP server over a unix socket")
struct ServerTests {
    static func dockerishRouter() -> Router {
        var router = Router()
        router.add(.GET, "/_ping") { _ in .text(.ok, "OK") }
        router.add(.GET, "/containers/json") { request in
            .json(.ok, ["version": request.apiVersion ?? "none", "path": request.path])
        }
        router.add(.GET, "/containers/{id}/json") { request, params in
            .json(.ok, ["id": params["id"] ?? "", "version": request.apiVersion ?? "none"])
        }
        router.add(.DELETE, "/containers/{id}") { request in
            .json(.ok, ["deleted": request.params["id"] ?? ""])
        }
        router.add(.GET, "/images/{name:.*}/json") { request in
            .json(.ok, ["name": request.params["name"] ?? ""])
        }
        router.add(.GET, "/query") { request in
            var out: [String: [String]] = [:]
            for item in request.query {
                out[item.name, default: []].append(item.value)
            }
            return .json(.ok, out)
        }
        router.add(.POST, "/echo") { request in
            do {
                var echo = try request.decodeJSON(Echo.self)
                echo.count += 1
                return .json(.created, echo)
            } catch {
                return .error(.badRequest, "bad body: \(error)")
            }
        }
        router.add(.POST, "/size") { request in
            .text(.ok, String(request.body.count))
        }
        router.add(.POST, "/containers/{id}/start") { _ in .empty() }
        router.add(.POST, "/headers") { request in
            .text(.ok, request.headers["X-Test"] ?? "missing").header("X-Reply", "yes")
        }
        return router
    }

    @Test func routesWithAndWithoutVersionPrefix() async throws {
        try await withServer(Self.dockerishRouter()) { client, _ in
            let plain = try await client.request("GET", "/containers/json")
            #expect(plain.status == 200)
            #expect(try plain.decodeJSON([String: String].self) == ["version": "none", "path": "/containers/json"])

            let versioned = try await client.request("GET", "/v1.44/containers/json")
            #expect(versioned.status == 200)
            #expect(try versioned.decodeJSON([String: String].self) == ["version": "1.44", "path": "/containers/json"])

            var pinned = client
            pinned.apiVersion = "1.47"
            let viaClient = try await pinned.request("GET", "/containers/abc/json")
            #expect(try viaClient.decodeJSON([String: String].self) == ["id": "abc", "version": "1.47"])

            // "/version" is a path, not a version prefix.
            let notVersion = try await client.request("GET", "/version")
            #expect(notVersion.status == 404)
        }
    }

    @Test func pathParameters() async throws {
        try await withServer(Self.dockerishRouter()) { client, _ in
            let inspect = try await client.request("GET", "/v1.44/containers/my%20box/json")
            #expect(try inspect.decodeJSON([String: String].self)["id"] == "my box")

            let delete = try await client.request("DELETE", "/containers/c1")
            #expect(try delete.decodeJSON([String: String].self) == ["deleted": "c1"])

            // Literal routes win over placeholders: GET /containers/json is not "inspect json".
            let list = try await client.request("GET", "/containers/json")
            #expect(try list.decodeJSON([String: String].self)["path"] == "/containers/json")

            let image = try await client.request("GET", "/images/docker.io/library/alpine:3.20/json")
            #expect(try image.decodeJSON([String: String].self) == ["name": "docker.io/library/alpine:3.20"])
        }
    }

    @Test func queryDecoding() async throws {
        try await withServer(Self.dockerishRouter()) { client, path in
            let filters = #"{"label":["a=b","c"],"status":["running"]}"#
            let response = try await client.request(
                "GET", "/query",
                query: [("all", "1"), ("filters", filters), ("label", "x y"), ("label", "z&=%")]
            )
            let decoded = try response.decodeJSON([String: [String]].self)
            #expect(decoded["all"] == ["1"])
            #expect(decoded["filters"] == [filters])
            #expect(decoded["label"] == ["x y", "z&=%"])

            // What other clients send: %20 and + both mean space, bare keys have empty values.
            let raw = try await rawExchange(
                path, send: "GET /query?a=1%202&a=3+4&flag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(raw.contains(#""a":["1 2","3 4"]"#))
            #expect(raw.contains(#""flag":[""]"#))
        }
    }

    @Test func notFoundAndMethodNotAllowed() async throws {
        try await withServer(Self.dockerishRouter()) { client, _ in
            let missing = try await client.request("GET", "/v1.44/nope")
            #expect(missing.status == 404)
            #expect(missing.text == #"{"message":"page not found"}"# + "\n")
            #expect(missing.headers["Content-Type"] == "application/json")

            let wrongMethod = try await client.request("POST", "/_ping")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.errorMessage == "method not allowed")
            #expect(wrongMethod.headers["Allow"] == "GET, HEAD")

            // Both /containers/json and /containers/{id} match this path.
            let ambiguous = try await client.request("PUT", "/containers/json")
            #expect(ambiguous.headers["Allow"] == "DELETE, GET, HEAD")
        }
    }

    @Test func headIsServedByGetWithoutBody() async throws {
        try await withServer(Self.dockerishRouter()) { client, path in
            let head = try await client.request("HEAD", "/_ping")
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(head.headers["Content-Length"] == "2")

            // On the wire: the head says 2 bytes, none follow, and the connection stays usable.
            let raw = try await rawExchange(
                path,
                send: "HEAD /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            let responses = raw.components(separatedBy: "HTTP/1.1 200 OK")
            #expect(responses.count == 3)
            #expect(responses[1].hasSuffix("\r\n\r\n"))
            #expect(raw.hasSuffix("\r\n\r\nOK"))
        }
    }

    @Test func jsonBodyRoundTrip() async throws {
        try await withServer(Self.dockerishRouter()) { client, _ in
            let sent = Echo(name: "web/1 \"quoted\" ünïcode", count: 41, tags: ["a", "b"])
            let response = try await client.request("POST", "/echo", body: Array(try JSONEncoder().encode(sent)))
            #expect(response.status == 201)
            #expect(try response.decodeJSON(Echo.self) == Echo(name: sent.name, count: 42, tags: ["a", "b"]))

            let bad = try await client.request("POST", "/echo", body: Array("{".utf8))
            #expect(bad.status == 400)
            #expect(bad.errorMessage?.hasPrefix("bad body") == true)
        }
    }

    @Test func emptyResponsesAndHeaders() async throws {
        let configuration = HTTPServer.Configuration(defaultHeaders: ["Api-Version": "1.47", "X-Reply": "default"])
        try await withServer(Self.dockerishRouter(), configuration: configuration) { client, _ in
            let started = try await client.request("POST", "/containers/abc/start")
            #expect(started.status == 204)
            #expect(started.body.isEmpty)
            #expect(started.headers["Content-Length"] == nil)
            #expect(started.headers["Api-Version"] == "1.47")

            let echoed = try await client.request("POST", "/headers", headers: [("X-Test", "hello")])
            #expect(echoed.text == "hello")
            #expect(echoed.headers.values("X-Reply") == ["yes"])  // the handler's header wins
            #expect(echoed.headers["Api-Version"] == "1.47")
        }
    }

    @Test func bodySizeLimit() async throws {
        let configuration = HTTPServer.Configuration(maxBodySize: 1024)
        try await withServer(Self.dockerishRouter(), configuration: configuration) { client, path in
            let fits = try await client.request("POST", "/size", body: [UInt8](repeating: 7, count: 1024))
            #expect(fits.text == "1024")

            let tooBig = try await client.request("POST", "/size", body: [UInt8](repeating: 7, count: 4096))
            #expect(tooBig.status == 413)

            // Chunked uploads have no Content-Length to check up front.
            let chunk = String(repeating: "x", count: 800)
            let raw = try await rawExchange(
                path,
                send: "POST /size HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "320\r\n\(chunk)\r\n320\r\n\(chunk)\r\n0\r\n\r\n"
            )
            #expect(raw.hasPrefix("HTTP/1.1 413"))
            #expect(raw.lowercased().contains("connection: close"))
        }
    }

    @Test func keepAlivePipeliningAndHalfClose() async throws {
        try await withServer(Self.dockerishRouter()) { _, path in
            let request = "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"
            // Three pipelined requests on one connection; the half-close ends it after the last answer.
            let raw = try await rawExchange(path, send: request + request + request, halfClose: true)
            #expect(occurrences(of: "HTTP/1.1 200 OK", in: raw) == 3)
            #expect(raw.hasSuffix("OK"))

            let http10 = try await rawExchange(path, send: "GET /_ping HTTP/1.0\r\n\r\n")
            #expect(http10.hasPrefix("HTTP/1.0 200 OK"))
            #expect(http10.lowercased().contains("content-length: 2"))
        }
    }

    @Test func malformedRequestGets400AndClose() async throws {
        try await withServer(Self.dockerishRouter()) { _, path in
            let raw = try await rawExchange(path, send: "THIS IS NOT HTTP\r\n\r\n")
            #expect(raw.hasPrefix("HTTP/1.1 400"))
        }
    }

    @Test func streamingResponseArrivesInChunks() async throws {
        // The producer waits for the client to have seen each chunk, so the test fails if
        // anything buffers the body until the end.
        let (acks, ackContinuation) = AsyncStream.makeStream(of: Void.self)
        var router = Router()
        router.add(.GET, "/logs") { _ in
            .stream(contentType: "text/plain") { writer in
                var iterator = acks.makeAsyncIterator()
                for i in 1...3 {
                    try await writer.write("line \(i)\n")
                    _ = await iterator.next()
                }
                try await writer.writeJSON(["done": true])
            }
        }
        try await withServer(router) { client, _ in
            let chunks = try await client.stream("GET", "/logs") { response in
                #expect(response.status == 200)
                #expect(response.headers["Transfer-Encoding"] == "chunked")
                var chunks: [String] = []
                for try await chunk in response.body {
                    chunks.append(String(decoding: chunk, as: UTF8.self))
                    ackContinuation.yield()
                }
                return chunks
            }
            #expect(chunks == ["line 1\n", "line 2\n", "line 3\n", #"{"done":true}"# + "\n"])
        }
    }

    @Test func streamProducerIsCancelledWhenClientLeaves() async throws {
        let (cancelled, cancelledContinuation) = AsyncStream.makeStream(of: Bool.self)
        var router = Router()
        router.add(.GET, "/events") { _ in
            .stream { writer in
                do {
                    while true {
                        try await writer.write("tick\n")
                        try await Task.sleep(for: .milliseconds(20))
                    }
                } catch {
                    cancelledContinuation.yield(Task.isCancelled || error is CancellationError)
                    cancelledContinuation.finish()
                    throw error
                }
            }
        }
        try await withServer(router) { client, _ in
            try await client.stream("GET", "/events") { response in
                for try await _ in response.body { break }
            }
            var iterator = cancelled.makeAsyncIterator()
            let value = await iterator.next()
            #expect(value != nil)
        }
    }

    @Test func manyConcurrentRequests() async throws {
        try await withServer(Self.dockerishRouter()) { client, _ in
            let clock = ContinuousClock()
            let start = clock.now
            try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<200 {
                    group.addTask {
                        let response = try await client.request("GET", "/containers/c\(i)/json")
                        return response.status
                    }
                }
                for try await status in group {
                    #expect(status == 200)
                }
            }
            print("200 concurrent requests (new connection each): \(clock.now - start)")
        }
    }

    @Test func shutdownClosesConnectionsAndRemovesSocket() async throws {
        let path = temporarySocketPath()
        // A stale socket file from a crashed daemon must not stop the bind.
        let stale = HTTPServer(socketPath: path, router: Router(), configuration: .init(socketPermissions: nil))
        try await stale.start()
        var router = Router()
        router.add(.GET, "/forever") { _ in
            .stream { writer in
                try await writer.write("hello\n")
                try await Task.sleep(for: .seconds(60))
            }
        }
        let server = HTTPServer(socketPath: path, router: router)
        try await server.start()
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)

        let client = UnixHTTPClient(socketPath: path)
        let clock = ContinuousClock()
        let start = clock.now
        let failed: Bool = try await client.stream("GET", "/forever") { response in
            var iterator = response.body.makeAsyncIterator()
            _ = try await iterator.next()
            await server.shutdown()
            do {
                while try await iterator.next() != nil {}
                return false
            } catch {
                return true  // cut off mid-body
            }
        }
        #expect(failed)
        #expect(clock.now - start < .seconds(10))
        #expect(!FileManager.default.fileExists(atPath: path))
        await stale.shutdown()
    }
}

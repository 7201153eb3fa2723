import Foundation
import HTTPUnix
import Testing

@Suite("Hijacked connections (exec/attach)")
struct HijackTests {
    /// Like dockerd's exec start: reads the JSON body, then emits frames on both streams,
    /// echoes stdin back as stdout frames, and finishes with a stderr frame at stdin EOF.
    static func execRouter() -> Router {
        var router = Router()
        router.add(.POST, "/exec/{id}/start") { request in
            struct StartBody: Decodable { var Detach: Bool; var Tty: Bool }
            guard let start = try? request.decodeJSON(StartBody.self), !start.Detach else {
                return .error(.badRequest, "bad exec start body")
            }
            let id = request.params["id"] ?? ""
            return .hijacked { raw in
                try await raw.write(.stdout, Array("hello from \(id)\n".utf8))
                try await raw.write(.stderr, Array("warning\n".utf8))
                for try await input in raw.input {
                    try await raw.write(.stdout, input)
                }
                try await raw.write(.stderr, Array("stdin closed\n".utf8))
            }
        }
        router.add(.POST, "/containers/{id}/attach") { _ in
            .hijacked { raw in
                // A big frame, so it crosses chunk boundaries on the way.
                try await raw.write(.stdout, [UInt8](repeating: UInt8(ascii: "a"), count: 200_000))
                try await raw.write(.stderr, Array("end\n".utf8))
            }
        }
        return router
    }

    @Test func upgradeRoundTripWithMultiplexedFrames() async throws {
        try await withServer(Self.execRouter()) { client, _ in
            let body = Array(#"{"Detach":false,"Tty":false}"#.utf8)
            let frames = try await client.hijack("POST", "/v1.44/exec/e1/start", body: body) { connection in
                #expect(connection.status == 101)
                #expect(connection.isUpgraded)
                #expect(connection.headers["Content-Type"] == "application/vnd.docker.raw-stream")
                #expect(connection.headers["Upgrade"] == "tcp")

                var demux = RawStreamDemultiplexer()
                var frames: [RawStream.Frame] = []
                var iterator = connection.output.makeAsyncIterator()
                // Wait for the greeting before sending input, as an interactive session would.
                while frames.count < 2, let chunk = try await iterator.next() {
                    frames += try demux.feed(chunk)
                }
                try await connection.write(Array("ping\n".utf8))
                while frames.count < 3, let chunk = try await iterator.next() {
                    frames += try demux.feed(chunk)
                }
                try await connection.write(Array("pong\n".utf8))
                try await connection.closeWrite()
                while let chunk = try await iterator.next() {
                    frames += try demux.feed(chunk)
                }
                try demux.finish()
                return frames
            }
            #expect(
                frames == [
                    RawStream.Frame(.stdout, Array("hello from e1\n".utf8)),
                    RawStream.Frame(.stderr, Array("warning\n".utf8)),
                    RawStream.Frame(.stdout, Array("ping\n".utf8)),
                    RawStream.Frame(.stdout, Array("pong\n".utf8)),
                    RawStream.Frame(.stderr, Array("stdin closed\n".utf8)),
                ])
        }
    }

    @Test func stdinSentRightAfterTheRequestIsNotLost() async throws {
        // Bytes that share a packet with the request are held by the HTTP decoder and must be
        // handed to the raw stream when it is removed.
        var router = Router()
        router.add(.POST, "/exec/{id}/start") { request in
            .hijacked { raw in
                try await raw.write(.stdout, Array("hello from \(request.params["id"] ?? "")\n".utf8))
                var input = raw.input.makeAsyncIterator()
                if let first = try await input.next() {
                    try await raw.write(.stdout, first)
                }
                try await raw.write(.stderr, Array("bye\n".utf8))
            }
        }
        try await withServer(router) { _, path in
            let body = #"{"Detach":false,"Tty":false}"#
            let request =
                "POST /exec/e2/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n\(body)early\n"
            let raw = try await rawExchange(path, send: request)
            #expect(raw.hasPrefix("HTTP/1.1 101 UPGRADED\r\n"))
            guard let split = raw.range(of: "\r\n\r\n") else {
                Issue.record("no end of head in \(raw)")
                return
            }
            let (out, err) = try RawStreamDemultiplexer.split(Array(raw[split.upperBound...].utf8))
            #expect(String(decoding: out, as: UTF8.self) == "hello from e2\nearly\n")
            #expect(String(decoding: err, as: UTF8.self) == "bye\n")
        }
    }

    @Test func withoutUpgradeTheRawStreamIsA200Body() async throws {
        try await withServer(Self.execRouter()) { client, _ in
            // No Upgrade header: 200, the raw stream as body, ended by the close.
            let response = try await client.request("POST", "/containers/c1/attach")
            #expect(response.status == 200)
            #expect(response.headers["Content-Type"] == "application/vnd.docker.raw-stream")
            #expect(response.headers["Content-Length"] == nil)
            #expect(response.headers["Transfer-Encoding"] == nil)
            let (out, err) = try RawStreamDemultiplexer.split(response.body)
            #expect(out.count == 200_000)
            #expect(String(decoding: err, as: UTF8.self) == "end\n")
        }
    }

    @Test func hijackOfAServerThatDoesNotUpgrade() async throws {
        // Some servers answer an upgrade request with a plain 200 stream; output still works.
        var router = Router()
        router.add(.POST, "/containers/{id}/attach") { _ in
            .stream(contentType: RawStream.contentType) { writer in
                try await writer.write(RawStream.frame(.stdout, Array("out".utf8)))
            }
        }
        try await withServer(router) { client, _ in
            let bytes = try await client.hijack("POST", "/containers/c/attach") { connection in
                #expect(connection.status == 200)
                #expect(!connection.isUpgraded)
                await #expect(throws: HTTPClientError.self) {
                    try await connection.write([1])
                }
                return try await connection.output.collect()
            }
            #expect(try RawStreamDemultiplexer.split(bytes).stdout == Array("out".utf8))
        }
    }

    @Test func hijackAnsweredWithAnErrorThrowsTheResponse() async throws {
        try await withServer(Self.execRouter()) { client, _ in
            do {
                try await client.hijack("POST", "/exec/e/start", body: Array(#"{"Detach":true}"#.utf8)) { _ in
                    Issue.record("session should not start")
                }
                Issue.record("expected an error")
            } catch HTTPClientError.requestFailed(let response) {
                #expect(response.status == 400)
                #expect(response.errorMessage == "bad exec start body")
            }
        }
    }

    @Test func upgradeRequestAnsweredWithoutHijackClosesTheConnection() async throws {
        // After an Upgrade request the HTTP decoder stops, so the server must not keep the
        // connection for further requests.
        var router = Router()
        router.add(.POST, "/exec/{id}/start") { _ in .error(.notFound, "no such exec") }
        try await withServer(router) { _, path in
            let raw = try await rawExchange(
                path,
                send: "POST /exec/x/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
            )
            #expect(raw.hasPrefix("HTTP/1.1 404"))
            #expect(raw.lowercased().contains("connection: close"))
        }
    }
}

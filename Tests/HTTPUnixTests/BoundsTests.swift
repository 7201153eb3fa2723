import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import HTTPUnix

/// The server's bounds: body caps, uploads to files, idle timeouts and the connection limit.
@Suite struct BoundsTests {
    static func router(uploads: String) -> Router {
        var router = Router()
        router.add(.GET, "/_ping") { _ in .text(.ok, "OK") }
        router.add(.POST, "/size") { request in .text(.ok, String(request.body.count)) }
        router.add(.POST, "/upload", body: .file) { request in
            guard let file = request.bodyFile, let data = FileManager.default.contents(atPath: file) else {
                return .error(.internalServerError, "no body file")
            }
            let inUploads = file.hasPrefix(uploads + "/")
            return .json(.ok, ["size": String(data.count), "inUploads": String(inUploads), "empty": String(request.body.isEmpty),
                               "sum": String(data.reduce(0) { ($0 + Int($1)) % 65521 })])
        }
        return router
    }

    static func uploadDirectory() throws -> String {
        let directory = "/tmp/berth-uploads-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func declaredBodyOverTheCapIsRefusedBeforeItIsSent() async throws {
        let configuration = HTTPServer.Configuration(maxBodySize: 1024)
        try await withServer(Self.router(uploads: "/nonexistent"), configuration: configuration) { _, path in
            // Only the head goes out: the answer must not wait for the 4 kB that never come.
            let started = ContinuousClock.now
            let raw = try await rawExchange(path, send: "POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n")
            #expect(raw.hasPrefix("HTTP/1.1 413"))
            #expect(raw.contains("the limit is 1024 bytes"))
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test func fileRouteBodyGoesToAFileThatIsRemovedAfterwards() async throws {
        let uploads = try Self.uploadDirectory()
        defer { try? FileManager.default.removeItem(atPath: uploads) }
        // Far over maxBodySize: file routes have their own cap.
        let configuration = HTTPServer.Configuration(maxBodySize: 1024, maxUploadSize: 8 << 20, uploadDirectory: uploads)
        try await withServer(Self.router(uploads: uploads), configuration: configuration) { client, path in
            let body = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let response = try await client.request("POST", "/upload", body: body)
            #expect(response.status == 200)
            let reply = try JSONDecoder().decode([String: String].self, from: Data(response.body))
            #expect(reply["size"] == String(body.count))
            #expect(reply["sum"] == String(body.reduce(0) { ($0 + Int($1)) % 65521 }))
            #expect(reply["inUploads"] == "true")
            #expect(reply["empty"] == "true")
            #expect(try FileManager.default.contentsOfDirectory(atPath: uploads).isEmpty)

            let tooBig = try await rawExchange(path, send: "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 9437184\r\n\r\n")
            #expect(tooBig.hasPrefix("HTTP/1.1 413"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: uploads).isEmpty)
        }
    }

    @Test func chunkedUploadOverItsCapIsRefusedAndItsFileRemoved() async throws {
        let uploads = try Self.uploadDirectory()
        defer { try? FileManager.default.removeItem(atPath: uploads) }
        let configuration = HTTPServer.Configuration(maxUploadSize: 2000, uploadDirectory: uploads)
        try await withServer(Self.router(uploads: uploads), configuration: configuration) { _, path in
            let chunk = String(repeating: "x", count: 800)
            let chunks = String(repeating: "320\r\n\(chunk)\r\n", count: 3)
            let raw = try await rawExchange(
                path, send: "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n")
            #expect(raw.hasPrefix("HTTP/1.1 413"))
            try await Task.sleep(for: .milliseconds(200))  // the file goes once its writes are done
            #expect(try FileManager.default.contentsOfDirectory(atPath: uploads).isEmpty)
        }
    }

    @Test func idleConnectionIsClosedAndStalledBodyGets408() async throws {
        let configuration = HTTPServer.Configuration(idleTimeout: .milliseconds(300))
        try await withServer(Self.router(uploads: "/nonexistent"), configuration: configuration) { _, path in
            let started = ContinuousClock.now
            let silent = try await rawExchange(path, send: "")
            #expect(silent.isEmpty)
            let stalled = try await rawExchange(path, send: "POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            #expect(stalled.hasPrefix("HTTP/1.1 408"))
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test func streamOutlivesTheIdleTimeout() async throws {
        var router = Router()
        router.add(.GET, "/slow") { _ in
            .stream(contentType: "text/plain") { writer in
                try await Task.sleep(for: .milliseconds(900))
                try await writer.write("late")
            }
        }
        let configuration = HTTPServer.Configuration(idleTimeout: .milliseconds(200))
        try await withServer(router, configuration: configuration) { _, path in
            let raw = try await rawExchange(path, send: "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(raw.hasPrefix("HTTP/1.1 200"))
            #expect(raw.contains("late"))
        }
    }

    @Test func connectionLimitMakesRoomByClosingTheLongestIdle() async throws {
        let connections = ConnectionSet(limit: 2)
        let loop = EmbeddedEventLoop()
        let first = EmbeddedChannel(loop: loop)
        let second = EmbeddedChannel(loop: loop)
        let third = EmbeddedChannel(loop: loop)
        let fourth = EmbeddedChannel(loop: loop)
        for channel in [first, second, third, fourth] {
            try await channel.connect(to: SocketAddress(unixDomainSocketPath: "/x")).get()
        }
        let firstSlot = try #require(connections.admit(first))
        let secondSlot = try #require(connections.admit(second))
        secondSlot.setIdle(false)
        // Full: `first` is the only idle one, so it makes room.
        let thirdSlot = try #require(connections.admit(third))
        _ = firstSlot
        loop.run()
        #expect(!first.isActive)
        #expect(second.isActive)
        #expect(connections.count == 2)
        // Full again and nothing idle: the newcomer is refused.
        thirdSlot.setIdle(false)
        #expect(connections.admit(fourth) == nil)
        #expect(connections.count == 2)
    }
}

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

public enum HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// No socket file, nobody listening, no permission, ...
    case cannotConnect(path: String, reason: String)
    /// The server closed the connection before the response was complete.
    case connectionClosed
    case invalidResponse(String)
    /// A hijack request was answered with an ordinary (error) response.
    case requestFailed(HTTPClientResponse)
    /// The server answered a hijack without upgrading, so the connection can't carry input.
    case inputNotSupported

    public var description: String {
        switch self {
        case .cannotConnect(let path, let reason):
            return "cannot connect to unix://\(path): \(reason)"
        case .connectionClosed:
            return "connection closed before the response was complete"
        case .invalidResponse(let why):
            return "invalid HTTP response: \(why)"
        case .requestFailed(let response):
            return "request failed with status \(response.status): \(response.errorMessage ?? "")"
        case .inputNotSupported:
            return "the server did not upgrade the connection; it cannot take input"
        }
    }
}

/// A complete response.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaderFields
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaderFields, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    public var text: String { String(decoding: body, as: UTF8.self) }

    public func decodeJSON<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONCoding.decoder.decode(T.self, from: Data(body))
    }

    /// The `message` of a Docker error body, else the body text; nil if empty.
    public var errorMessage: String? {
        // Not Docker's error shape: the text below is the message.
        if let error = try? decodeJSON(ErrorMessage.self) {
            return error.message
        }
        let text = self.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}

/// A response whose body is read as it arrives.
public struct HTTPClientStreamingResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaderFields
    /// Body chunks as they arrive (chunk boundaries are arbitrary); ends with the body.
    public var body: HTTPBodyStream
}

/// A connection after a hijack: server output on `output`, client input via `write`.
public struct HijackedConnection: Sendable {
    public var status: Int
    public var headers: HTTPHeaderFields
    /// False when the server answered 200 instead of 101; `output` still works then, input doesn't.
    public var isUpgraded: Bool
    /// Raw bytes from the server (Docker frames unless TTY) until it closes its side.
    public var output: HTTPBodyStream
    let channel: any Channel

    /// Sends raw bytes (stdin) to the server.
    public func write(_ bytes: [UInt8]) async throws {
        guard isUpgraded else { throw HTTPClientError.inputNotSupported }
        guard !bytes.isEmpty else { return }
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }

    /// Half-closes: tells the server input has ended (stdin EOF) while output keeps coming.
    public func closeWrite() async throws {
        guard isUpgraded else { return }
        try await channel.close(mode: .output).get()
    }
}

/// Chunks of bytes as they arrive from the server.
public struct HTTPBodyStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    let producer: BodyProducer

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: BodyProducer.AsyncIterator

        public mutating func next() async throws -> [UInt8]? {
            guard let buffer = try await base.next() else { return nil }
            return Array(buffer.readableBytesView)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: producer.makeAsyncIterator())
    }

    /// Reads everything that is left.
    public func collect() async throws -> [UInt8] {
        var all: [UInt8] = []
        for try await chunk in self {
            all += chunk
        }
        return all
    }
}

/// HTTP/1.1 client over a unix socket, one connection per request (cheap on a local socket,
/// and it keeps streams and hijacks independent of each other).
///
///     let client = UnixHTTPClient(socketPath: "/run/berth.sock")
///     let response = try await client.request("GET", "/containers/json", query: [("all", "1")])
public struct UnixHTTPClient: Sendable {
    public let socketPath: String
    /// Prepended as `/v<apiVersion>` to every path when set.
    public var apiVersion: String?
    /// Sent with every request unless the request sets the same header.
    public var defaultHeaders: HTTPHeaderFields

    public init(socketPath: String, apiVersion: String? = nil, defaultHeaders: HTTPHeaderFields = ["User-Agent": "berth"]) {
        self.socketPath = socketPath
        self.apiVersion = apiVersion
        self.defaultHeaders = defaultHeaders
    }

    /// Sends a request and reads the whole response.
    public func request(
        _ method: String,
        _ path: String,
        query: [(String, String)] = [],
        body: [UInt8]? = nil,
        headers: [(String, String)] = []
    ) async throws -> HTTPClientResponse {
        let exchange = try await open(method, path, query: query, body: body, headers: headers, hijack: false)
        return try await exchange.run { exchange in
            HTTPClientResponse(status: exchange.status, headers: exchange.headers, body: try await exchange.body.collect())
        }
    }

    /// Sends a request and hands the response to `handle` while its body is still arriving.
    /// The connection is closed when `handle` returns.
    @discardableResult
    public func stream<T>(
        _ method: String,
        _ path: String,
        query: [(String, String)] = [],
        body: [UInt8]? = nil,
        headers: [(String, String)] = [],
        isolation: isolated (any Actor)? = #isolation,
        _ handle: (HTTPClientStreamingResponse) async throws -> T
    ) async throws -> T {
        let exchange = try await open(method, path, query: query, body: body, headers: headers, hijack: false)
        return try await exchange.run { exchange in
            try await handle(
                HTTPClientStreamingResponse(status: exchange.status, headers: exchange.headers, body: exchange.body)
            )
        }
    }

    /// Sends a request asking for the connection to be upgraded (`Connection: Upgrade`,
    /// `Upgrade: tcp`), as Docker's exec start and attach do. After a 101 (or a 200 from a
    /// server that doesn't upgrade) `session` gets the raw connection; any other status throws
    /// `HTTPClientError.requestFailed` with the response. The connection is closed when `session` returns.
    @discardableResult
    public func hijack<T>(
        _ method: String,
        _ path: String,
        query: [(String, String)] = [],
        body: [UInt8]? = nil,
        headers: [(String, String)] = [],
        isolation: isolated (any Actor)? = #isolation,
        _ session: (HijackedConnection) async throws -> T
    ) async throws -> T {
        let exchange = try await open(method, path, query: query, body: body, headers: headers, hijack: true)
        return try await exchange.run { exchange in
            guard exchange.status == 101 || exchange.status == 200 else {
                let body = try await exchange.body.collect()
                throw HTTPClientError.requestFailed(
                    HTTPClientResponse(status: exchange.status, headers: exchange.headers, body: body)
                )
            }
            return try await session(
                HijackedConnection(
                    status: exchange.status,
                    headers: exchange.headers,
                    isUpgraded: exchange.status == 101,
                    output: exchange.body,
                    channel: exchange.channel
                )
            )
        }
    }

    // MARK: Internals

    /// A request sent and its response head received, on a connection of its own.
    struct OpenExchange: Sendable {
        var channel: any Channel
        var status: Int
        var headers: HTTPHeaderFields
        var body: HTTPBodyStream

        /// Runs `body` and closes the connection afterwards, also when cancelled.
        func run<T>(
            isolation: isolated (any Actor)? = #isolation,
            _ body: (OpenExchange) async throws -> T
        ) async throws -> T {
            let channel = self.channel
            defer { channel.close(promise: nil) }
            return try await withTaskCancellationHandler {
                try await body(self)
            } onCancel: {
                channel.close(promise: nil)
            }
        }
    }

    private func open(
        _ method: String,
        _ path: String,
        query: [(String, String)],
        body: [UInt8]?,
        headers: [(String, String)],
        hijack: Bool
    ) async throws -> OpenExchange {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                // A hijacked server may close its side first while we still send input.
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .connect(unixDomainSocketPath: socketPath)
                .get()
        } catch {
            throw HTTPClientError.cannotConnect(path: socketPath, reason: Self.describe(error))
        }

        do {
            let (headFuture, producer) = try await channel.eventLoop.submit {
                try ClientResponseHandler.install(on: channel, expectsUpgrade: hijack)
            }.get()

            let head = HTTPRequestHead(
                version: .http1_1,
                method: NIOHTTP1.HTTPMethod(rawValue: method),
                uri: requestURI(path, query: query),
                headers: requestHeaders(method: method, body: body, extra: headers, hijack: hijack)
            )
            // A write error is only reported if no response arrives either: a server may answer
            // (say 413) and close before reading the whole request.
            var writeError: (any Error)?
            do {
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                if let body, !body.isEmpty {
                    channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: body))), promise: nil)
                }
                try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
            } catch {
                writeError = error
            }

            let responseHead: HTTPResponseHead
            do {
                responseHead = try await headFuture.get()
            } catch {
                throw writeError ?? error
            }
            return OpenExchange(
                channel: channel,
                status: Int(responseHead.status.code),
                headers: HTTPHeaderFields(responseHead.headers.map { ($0.name, $0.value) }),
                body: HTTPBodyStream(producer: producer)
            )
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    private func requestURI(_ path: String, query: [(String, String)]) -> String {
        var uri = path.hasPrefix("/") ? path : "/" + path
        if let apiVersion {
            uri = "/v\(apiVersion)" + uri
        }
        if !query.isEmpty {
            uri += "?" + query.map { queryEscape($0.0) + "=" + queryEscape($0.1) }.joined(separator: "&")
        }
        return uri
    }

    private func requestHeaders(method: String, body: [UInt8]?, extra: [(String, String)], hijack: Bool) -> HTTPHeaders {
        let extra = HTTPHeaderFields(extra)
        var headers = HTTPHeaders()
        // HTTP/1.1 requires a Host; on a unix socket any name does (the Docker CLI sends api.moby.localhost).
        if !extra.contains("Host") {
            headers.add(name: "Host", value: "localhost")
        }
        for field in defaultHeaders where !extra.contains(field.name) {
            headers.add(name: field.name, value: field.value)
        }
        for field in extra {
            headers.add(name: field.name, value: field.value)
        }
        headers.remove(name: "content-length")
        headers.remove(name: "transfer-encoding")
        if let body {
            headers.add(name: "Content-Length", value: String(body.count))
            if !extra.contains("Content-Type") {
                headers.add(name: "Content-Type", value: "application/json")
            }
        } else if method != "GET" && method != "HEAD" {
            headers.add(name: "Content-Length", value: "0")  // else NIO would frame it as chunked
        }
        if hijack {
            headers.replaceOrAdd(name: "Connection", value: "Upgrade")
            headers.replaceOrAdd(name: "Upgrade", value: "tcp")
        }
        return headers
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode)).lowercased()
        }
        return String(describing: error)
    }
}

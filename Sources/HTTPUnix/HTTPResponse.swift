import Foundation

/// What a route handler returns.
public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        /// No body; a `Content-Length: 0` is sent unless the status forbids a body.
        case empty
        /// A complete body, sent with `Content-Length`.
        case bytes([UInt8])
        /// A body produced over time and sent with chunked encoding (logs --follow, events).
        case stream(@Sendable (StreamWriter) async throws -> Void)
        /// The connection leaves HTTP: after a `101 UPGRADED` (or `200 OK` if the client did not ask
        /// to upgrade) the closure owns the raw connection, which is closed when it returns.
        case hijacked(@Sendable (RawStreamWriter) async throws -> Void)
    }

    public var status: HTTPStatus
    public var headers: HTTPHeaderFields
    public var body: Body

    public init(status: HTTPStatus, headers: HTTPHeaderFields = HTTPHeaderFields(), body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Returns a copy with one more header.
    public func header(_ name: String, _ value: String) -> HTTPResponse {
        var copy = self
        copy.headers.set(name, value)
        return copy
    }

    /// A JSON body encoded with the shared encoder; an encoding failure becomes a 500 error.
    public static func json<T: Encodable>(_ status: HTTPStatus = .ok, _ value: T) -> HTTPResponse {
        do {
            var bytes = [UInt8](try JSONCoding.encoder.encode(value))
            // Go's json.Encoder ends documents with a newline; curl users and scripts expect it.
            bytes.append(UInt8(ascii: "\n"))
            return HTTPResponse(
                status: status,
                headers: ["Content-Type": "application/json"],
                body: .bytes(bytes)
            )
        } catch {
            return .error(.internalServerError, "encoding response: \(error)")
        }
    }

    /// Docker's error shape: `{"message": "..."}`.
    public static func error(_ status: HTTPStatus, _ message: String) -> HTTPResponse {
        json(status, ErrorMessage(message: message))
    }

    public static func text(_ status: HTTPStatus = .ok, _ text: String, contentType: String = "text/plain; charset=utf-8")
        -> HTTPResponse
    {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .bytes(Array(text.utf8)))
    }

    public static func bytes(_ status: HTTPStatus = .ok, _ bytes: [UInt8], contentType: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .bytes(bytes))
    }

    /// A body-less response, 204 by default (also 304, or 200/201 with an empty body).
    public static func empty(_ status: HTTPStatus = .noContent) -> HTTPResponse {
        HTTPResponse(status: status)
    }

    /// A chunked response whose body `produce` writes; the response ends when it returns.
    public static func stream(
        _ status: HTTPStatus = .ok,
        contentType: String = "application/json",
        _ produce: @escaping @Sendable (StreamWriter) async throws -> Void
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .stream(produce))
    }

    /// Takes over the connection for Docker's raw stream (exec/attach).
    /// `contentType` is Docker's `application/vnd.docker.raw-stream` for multiplexed frames,
    /// `application/vnd.docker.multiplexed-stream` is used by newer daemons for the same thing.
    public static func hijacked(
        contentType: String = RawStream.contentType,
        _ body: @escaping @Sendable (RawStreamWriter) async throws -> Void
    ) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: ["Content-Type": contentType], body: .hijacked(body))
    }
}

/// The JSON body of every Docker API error.
public struct ErrorMessage: Codable, Sendable, Equatable {
    public var message: String

    public init(message: String) {
        self.message = message
    }
}

/// Shared coders: creating a JSONEncoder per response costs more than the encoding of a small body.
public enum JSONCoding {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        // Go does not escape "/", and image references are full of them.
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    public static let decoder = JSONDecoder()
}

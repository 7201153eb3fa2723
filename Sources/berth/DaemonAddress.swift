import DockerAPI
import Foundation
import HTTPUnix
import Synchronization

/// Where the daemon is and how to talk to it.
enum Daemon {
    /// `-H` / `--host`, set once while the arguments are read.
    static let hostOverride = Mutex<String?>(nil)

    static let defaultHost = "unix:///run/berth.sock"

    static var host: String {
        hostOverride.withLock { $0 } ?? ProcessInfo.processInfo.environment["BERTH_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultHost
    }

    static func socketPath() throws -> String {
        let host = self.host
        if host.hasPrefix("unix://") { return String(host.dropFirst("unix://".count)) }
        if host.hasPrefix("/") { return host }
        throw CLIFailure(message: "unsupported daemon address \(host): berth speaks to unix:// sockets")
    }
}

/// The API calls the CLI makes, with Docker's error bodies turned into one-line failures.
struct APIClient {
    let client: UnixHTTPClient

    init() throws {
        client = UnixHTTPClient(socketPath: try Daemon.socketPath())
    }

    static let encoder = JSONEncoder()
    static let decoder = JSONDecoder()

    func call(_ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
              contentType: String = "application/json") async throws -> HTTPClientResponse {
        let response: HTTPClientResponse
        do {
            response = try await client.request(method, "/v\(APIVersion.current)" + path, query: query, body: body,
                                                headers: body == nil ? [] : [("Content-Type", contentType)])
        } catch {
            throw CLIFailure(message: "cannot connect to the berth daemon at \(Daemon.host): is berthd running? (\(error))")
        }
        guard (200..<300).contains(response.status) || response.status == 304 else {
            // Not Docker's error shape: the body itself is the message.
            let message = (try? Self.decoder.decode(ErrorResponse.self, from: Data(response.body)))?.message
                ?? String(decoding: response.body, as: UTF8.self)
            throw CLIFailure(message: message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return response
    }

    func json<T: Decodable>(_ type: T.Type, _ method: String, _ path: String, query: [(String, String)] = [],
                            body: (some Encodable)? = Optional<EmptyObject>.none) async throws -> T {
        let bytes = try body.map { Array(try Self.encoder.encode($0)) }
        let response = try await call(method, path, query: query, body: bytes)
        do {
            return try Self.decoder.decode(T.self, from: Data(response.body))
        } catch {
            throw CLIFailure(message: "unexpected answer from the daemon for \(method) \(path): \(error)")
        }
    }

    func send(_ method: String, _ path: String, query: [(String, String)] = [],
              body: (some Encodable)? = Optional<EmptyObject>.none) async throws {
        let bytes = try body.map { Array(try Self.encoder.encode($0)) }
        _ = try await call(method, path, query: query, body: bytes)
    }

    /// Raw JSON of an inspect call, kept as the daemon sent it.
    func rawJSON(_ path: String) async throws -> Any {
        let response = try await call("GET", path)
        return try JSONSerialization.jsonObject(with: Data(response.body))
    }
}

/// Escapes a path segment (names never contain '/', but IDs and names are user input).
func segment(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? text
}

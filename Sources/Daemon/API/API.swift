import BerthCore
import DockerAPI
import Foundation
import HTTPUnix

/// Turns errors into Docker's `{"message": ...}` bodies with the matching status.
func errorResponse(_ error: any Error) -> HTTPResponse {
    if let berth = error as? BerthError {
        return .error(HTTPStatus(berth.httpStatus), berth.message)
    }
    if error is DecodingError {
        return .error(.badRequest, "invalid JSON in request body: \(describe(decoding: error))")
    }
    return .error(.internalServerError, "\(error)")
}

private func describe(decoding error: any Error) -> String {
    switch error as? DecodingError {
    case .dataCorrupted(let context)?: return context.underlyingError.map { "\($0)" } ?? context.debugDescription
    case .keyNotFound(let key, _)?: return "missing field \(key.stringValue)"
    case .typeMismatch(_, let context)?:
        return "wrong type for \(context.codingPath.map(\.stringValue).joined(separator: "."))"
    case .valueNotFound(_, let context)?:
        return "missing value for \(context.codingPath.map(\.stringValue).joined(separator: "."))"
    default: return "\(error)"
    }
}

/// Runs a handler body and maps whatever it throws.
func respond(_ body: () async throws -> HTTPResponse) async -> HTTPResponse {
    do { return try await body() } catch { return errorResponse(error) }
}

extension HTTPRequest {
    /// Decodes a JSON body; an empty body decodes as `{}` where the type allows it.
    func json<T: Decodable>(_ type: T.Type) throws -> T {
        let bytes = body.isEmpty ? Array("{}".utf8) : body
        return try JSONCoding.decoder.decode(type, from: Data(bytes))
    }

    /// Docker's `filters` query, parsed once for every list and prune endpoint.
    func filters() throws(BerthError) -> Filters { try Filters.parse(query["filters"]) }

    /// An integer query parameter; present but not a number is refused, naming it.
    func integer(_ name: String) throws(BerthError) -> Int? {
        guard let text = query[name], !text.isEmpty else { return nil }
        guard let value = Int(text) else { throw .invalid("invalid \(name): \(text) is not a number") }
        return value
    }

    func param(_ name: String) -> String { params[name] ?? "" }
}

/// Builds the router over the controller.
struct APIRoutes {
    let controller: Controller
    let configuration: DaemonConfiguration

    func router() -> Router {
        var router = Router()
        addSystemRoutes(&router)
        addNetworkRoutes(&router)
        addContainerRoutes(&router)
        addExecRoutes(&router)
        addAttachRoutes(&router)
        addExecStdioRoutes(&router)
        addImageRoutes(&router)
        addSwarmRoutes(&router)
        addEventRoutes(&router)
        return router
    }

    private func addSystemRoutes(_ router: inout Router) {
        router.add(.GET, "/_ping") { _ in
            HTTPResponse.text(.ok, "OK").header("Cache-Control", "no-cache, no-store, must-revalidate").header("Pragma", "no-cache")
        }
        router.add(.GET, "/version") { _ in
            .json(.ok, VersionResponse(version: configuration.version, kernel: SystemFacts.kernel,
                                       arch: SystemFacts.architecture, commit: "berth"))
        }
        router.add(.GET, "/info") { _ in
            await .json(.ok, controller.info())
        }
        // berth's own: the durations of the network part of recent starts and stops (bench/).
        router.add(.GET, "/berth/timings") { request in
            await .json(.ok, controller.timings(reset: request.query.bool("reset") ?? false))
        }
    }
}

enum SystemFacts {
    static let kernel: String = {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }()

    static let architecture: String = {
        #if arch(x86_64)
        "amd64"
        #elseif arch(arm64)
        "arm64"
        #else
        "unknown"
        #endif
    }()
}

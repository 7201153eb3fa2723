/// Maps (method, path) to handlers. Built up front, then handed to the server by value, so
/// lookups need no locking.
///
/// Patterns are `/`-separated; a segment `{name}` matches one path segment, and `{name:.*}`
/// (or `{name*}`) matches one or more segments, as Docker's image routes need
/// (`/images/{name:.*}/json` matches `/images/library/alpine:3/json`).
public struct Router: Sendable {
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    /// How a route takes its request body.
    public enum BodyMode: Sendable, Equatable {
        /// In memory as `HTTPRequest.body`, up to the server's `maxBodySize` (JSON documents).
        case buffered
        /// Written to a file as it arrives (`HTTPRequest.bodyFile`), up to `maxUploadSize`:
        /// tarballs, whose size has no reason to fit in memory.
        case file
    }

    /// The outcome of a lookup.
    public enum Match: Sendable {
        case found(Handler, params: [String: String], body: BodyMode)
        /// The path exists but not for this method; carries the methods that do exist.
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
    }

    private enum Segment: Sendable, Equatable {
        case literal(String)
        case param(String)
        case rest(String)
    }

    private struct Route: Sendable {
        let pattern: String
        let segments: [Segment]
        var handlers: [HTTPMethod: (handler: Handler, body: BodyMode)]
    }

    private var routes: [Route] = []
    /// Routes whose first segment is a literal, indexed by it, in registration order.
    private var byFirstSegment: [String: [Int]] = [:]
    /// Routes whose first segment is a placeholder; tried after the literal ones.
    private var placeholderFirst: [Int] = []

    public init() {}

    /// Registers `handler` for `method` on `pattern`. A later registration of the same
    /// method and pattern replaces the earlier one.
    public mutating func add(
        _ method: HTTPMethod,
        _ pattern: String,
        body: BodyMode = .buffered,
        _ handler: @escaping Handler
    ) {
        if let index = routes.firstIndex(where: { $0.pattern == pattern }) {
            routes[index].handlers[method] = (handler, body)
            return
        }
        let segments = Self.parse(pattern)
        routes.append(Route(pattern: pattern, segments: segments, handlers: [method: (handler, body)]))
        let index = routes.count - 1
        if case .literal(let first)? = segments.first {
            byFirstSegment[first, default: []].append(index)
        } else {
            placeholderFirst.append(index)
        }
    }

    /// Same as `add(_:_:_:)` for handlers that like the path parameters as a separate argument.
    public mutating func add(
        _ method: HTTPMethod,
        _ pattern: String,
        _ handler: @escaping @Sendable (HTTPRequest, [String: String]) async -> HTTPResponse
    ) {
        add(method, pattern) { (request: HTTPRequest) in await handler(request, request.params) }
    }

    /// Looks up a version-stripped, still percent-encoded path. HEAD falls back to GET.
    public func match(_ method: HTTPMethod, path: some StringProtocol) -> Match {
        let parts = Self.split(path)
        var candidates: [Int] = []
        if let first = parts.first, let indexed = byFirstSegment[String(first)] {
            candidates = indexed
        }
        candidates += placeholderFirst

        var pathMatched: [(Int, [String: String])] = []
        for index in candidates {
            guard let params = Self.bind(routes[index].segments[...], parts[...]) else { continue }
            if let entry = routes[index].handlers[method] {
                return .found(entry.handler, params: params, body: entry.body)
            }
            pathMatched.append((index, params))
        }
        // Docker's CLI probes with HEAD /_ping; any GET route answers HEAD (the server drops the body).
        if method == .HEAD {
            for (index, params) in pathMatched {
                if let entry = routes[index].handlers[.GET] {
                    return .found(entry.handler, params: params, body: entry.body)
                }
            }
        }
        if pathMatched.isEmpty {
            return .notFound
        }
        var allowed = Set<HTTPMethod>()
        for (index, _) in pathMatched {
            allowed.formUnion(routes[index].handlers.keys)
        }
        if allowed.contains(.GET) {
            allowed.insert(.HEAD)
        }
        return .methodNotAllowed(allowed: allowed.sorted { $0.rawValue < $1.rawValue })
    }

    private static func split(_ path: some StringProtocol) -> [Substring] {
        var trimmed = Substring(path)
        if trimmed.hasPrefix("/") {
            trimmed = trimmed.dropFirst()
        }
        // Keep empty segments so "/a//b" and "/a/" don't silently match "/a/b" and "/a".
        return trimmed.split(separator: "/", omittingEmptySubsequences: false)
    }

    private static func parse(_ pattern: String) -> [Segment] {
        split(pattern).map { part in
            guard part.hasPrefix("{"), part.hasSuffix("}") else { return .literal(String(part)) }
            let inner = part.dropFirst().dropLast()
            if let colon = inner.firstIndex(of: ":") {
                let name = String(inner[..<colon])
                return inner[inner.index(after: colon)...] == ".*" ? .rest(name) : .param(name)
            }
            if inner.hasSuffix("*") {
                return .rest(String(inner.dropLast()))
            }
            return .param(String(inner))
        }
    }

    /// Matches pattern segments against path segments, backtracking only at multi-segment placeholders.
    private static func bind(_ pattern: ArraySlice<Segment>, _ parts: ArraySlice<Substring>) -> [String: String]? {
        var params: [String: String] = [:]
        var pi = pattern.startIndex
        var si = parts.startIndex
        while pi < pattern.endIndex {
            switch pattern[pi] {
            case .literal(let literal):
                guard si < parts.endIndex, parts[si] == literal else { return nil }
            case .param(let name):
                guard si < parts.endIndex, !parts[si].isEmpty else { return nil }
                params[name] = percentDecode(parts[si], plusIsSpace: false)
            case .rest(let name):
                let tail = pattern[(pi + 1)...]
                // Longest first, as gorilla/mux's `.*` is greedy.
                var end = parts.endIndex
                while end > si {
                    let joined = parts[si..<end].joined(separator: "/")
                    if !joined.isEmpty, let restParams = bind(tail, parts[end...]) {
                        params[name] = percentDecode(joined, plusIsSpace: false)
                        return params.merging(restParams) { a, _ in a }
                    }
                    end -= 1
                }
                return nil
            }
            pi += 1
            si += 1
        }
        return si == parts.endIndex ? params : nil
    }
}

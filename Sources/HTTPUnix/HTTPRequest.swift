import Foundation

/// One complete HTTP request as seen by a route handler.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The path with any Docker version prefix (`/v1.44`) removed, still percent-encoded.
    public var path: String
    /// The API version from the path prefix (`"1.44"` for `/v1.44/...`), nil without a prefix.
    public var apiVersion: String?
    /// Values of `{name}` placeholders in the matched route, percent-decoded.
    public var params: [String: String]
    public var query: QueryParameters
    public var headers: HTTPHeaderFields
    public var body: [UInt8]
    /// Where the body of a `.file` route was written; the server removes the file once the
    /// handler has returned.
    public var bodyFile: String?

    public init(
        method: HTTPMethod,
        path: String,
        apiVersion: String? = nil,
        params: [String: String] = [:],
        query: QueryParameters = QueryParameters(),
        headers: HTTPHeaderFields = HTTPHeaderFields(),
        body: [UInt8] = [],
        bodyFile: String? = nil
    ) {
        self.method = method
        self.path = path
        self.apiVersion = apiVersion
        self.params = params
        self.query = query
        self.headers = headers
        self.body = body
        self.bodyFile = bodyFile
    }

    /// Decodes the body as JSON with the shared decoder.
    public func decodeJSON<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONCoding.decoder.decode(T.self, from: Data(body))
    }

    /// The body as UTF-8 text (invalid bytes are replaced).
    public var bodyText: String {
        String(decoding: body, as: UTF8.self)
    }

    /// True when the client asked to switch the connection to a raw stream
    /// (`Connection: Upgrade` plus an `Upgrade` header), as `docker exec`/`attach` do.
    public var wantsUpgrade: Bool {
        guard headers.contains("Upgrade") else { return false }
        return headers.values("Connection").contains { value in
            value.split(separator: ",").contains {
                $0.trimmingCharacters(in: .whitespaces).caseInsensitiveEquals("upgrade")
            }
        }
    }
}

/// Query items in order, percent-decoded, with repeated keys kept.
public struct QueryParameters: Sendable, Sequence {
    public typealias Element = (name: String, value: String)

    public private(set) var items: [Element]

    public init(_ items: [(String, String)] = []) {
        self.items = items.map { (name: $0.0, value: $0.1) }
    }

    /// Parses `a=1&b=x%20y&a=2`; `+` means space, as Go's url.ParseQuery (and so the Docker CLI) has it.
    public init(parsing query: Substring) {
        var items: [Element] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            if let eq = pair.firstIndex(of: "=") {
                items.append((
                    name: percentDecode(pair[..<eq], plusIsSpace: true),
                    value: percentDecode(pair[pair.index(after: eq)...], plusIsSpace: true)
                ))
            } else {
                items.append((name: percentDecode(pair, plusIsSpace: true), value: ""))
            }
        }
        self.items = items
    }

    public func makeIterator() -> IndexingIterator<[Element]> {
        items.makeIterator()
    }

    public var isEmpty: Bool { items.isEmpty }

    /// The first value for `name`, or nil when absent.
    public subscript(name: String) -> String? {
        items.first { $0.name == name }?.value
    }

    /// Every value for `name`, in order.
    public func all(_ name: String) -> [String] {
        items.filter { $0.name == name }.map(\.value)
    }

    public func contains(_ name: String) -> Bool {
        items.contains { $0.name == name }
    }

    /// Docker's boolean convention: absent → nil; "", "0", "no", "false", "none" → false; anything else → true.
    public func bool(_ name: String) -> Bool? {
        guard let value = self[name] else { return nil }
        switch value.lowercased() {
        case "", "0", "no", "false", "none": return false
        default: return true
        }
    }

    public func int(_ name: String) -> Int? {
        self[name].flatMap { Int($0) }
    }
}

/// Decodes %XX escapes; malformed escapes are kept as they are rather than rejected.
func percentDecode<S: StringProtocol>(_ text: S, plusIsSpace: Bool) -> String {
    let utf8 = text.utf8
    // Fast path: most path segments and query values need no decoding.
    if !utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) {
        return String(text)
    }
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count)
    var i = utf8.startIndex
    while i != utf8.endIndex {
        let byte = utf8[i]
        if byte == UInt8(ascii: "%") {
            let h1 = utf8.index(after: i)
            if h1 != utf8.endIndex {
                let h2 = utf8.index(after: h1)
                if h2 != utf8.endIndex, let hi = hexValue(utf8[h1]), let lo = hexValue(utf8[h2]) {
                    out.append(hi << 4 | lo)
                    i = utf8.index(after: h2)
                    continue
                }
            }
            out.append(byte)
        } else if plusIsSpace && byte == UInt8(ascii: "+") {
            out.append(UInt8(ascii: " "))
        } else {
            out.append(byte)
        }
        i = utf8.index(after: i)
    }
    return String(decoding: out, as: UTF8.self)
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// Percent-encodes a query component the way Go's url.QueryEscape does (space → `+`).
func queryEscape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
            UInt8(ascii: "."), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        case UInt8(ascii: " "):
            out.append("+")
        default:
            out.append("%")
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0xF)])
        }
    }
    return out
}

private let hexDigits: [Character] = Array("0123456789ABCDEF")

/// Splits a request target into the version prefix, path and query.
struct RequestTarget {
    var apiVersion: String?
    var path: Substring
    var query: Substring

    init(_ uri: String) {
        let full = Substring(uri)
        var path: Substring
        if let q = full.firstIndex(of: "?") {
            path = full[..<q]
            query = full[full.index(after: q)...]
        } else {
            path = full
            query = ""
        }
        // Docker clients prefix paths with /v<major>.<minor>; both forms route the same.
        apiVersion = nil
        if path.hasPrefix("/v") {
            let rest = path.dropFirst(2)
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            let version = rest[..<end]
            if !version.isEmpty, version.first?.isASCIIDigit == true,
                version.allSatisfy({ $0.isASCIIDigit || $0 == "." })
            {
                apiVersion = String(version)
                path = end == rest.endIndex ? "/" : rest[end...]
            }
        }
        self.path = path
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool {
        guard let ascii = asciiValue else { return false }
        return ascii >= 48 && ascii <= 57
    }
}

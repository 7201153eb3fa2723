import BerthCore

/// A Docker image reference `[registry[:port]/]path[:tag]`, validated with Docker's
/// grammar so names that Docker would reject are rejected here too. Digests
/// (`@sha256:…`) are not supported: images only come from local imports.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// The repository name in its familiar form ("busybox", not "docker.io/library/busybox").
    public var name: String
    public var tag: String

    public static let defaultTag = "latest"

    public init(name: String, tag: String = ImageReference.defaultTag) throws {
        guard Self.isValidName(name) else { throw BerthError.invalid("invalid reference format: repository name \"\(name)\" must be lowercase [a-z0-9._-/] components") }
        guard Self.isValidTag(tag) else { throw BerthError.invalid("invalid reference format: tag \"\(tag)\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}") }
        self.name = Self.familiar(name)
        self.tag = tag
    }

    /// Parses "name", "name:tag", "registry:5000/name:tag".
    public init(parsing text: String) throws {
        guard !text.isEmpty else { throw BerthError.invalid("invalid reference format: empty image name") }
        guard !text.contains("@") else { throw BerthError.invalid("invalid reference format: digest references are not supported: \(text)") }
        guard text.utf8.count <= 255 + 129 else { throw BerthError.invalid("invalid reference format: \"\(text.prefix(40))…\" is too long") }
        // The tag is after the last ':' only if no '/' follows it; otherwise that ':' is a registry port.
        var name = Substring(text)
        var tag = Self.defaultTag
        if let colon = text.lastIndex(of: ":"), !text[colon...].contains("/") {
            name = text[..<colon]
            tag = String(text[text.index(after: colon)...])
        }
        try self.init(name: String(name), tag: tag)
    }

    public var description: String { "\(name):\(tag)" }

    /// The `repo` and `tag` parameters of import and tag, as Docker combines them: a
    /// non-empty `tag` replaces any tag `repo` carries; without one, `repo`'s own tag (or
    /// latest) counts. So `docker import f name:tag` (repo "name:tag", no tag) and the
    /// API's repo=name&tag=tag name the same image.
    public init(repo: String, tag: String?) throws {
        let parsed = try ImageReference(parsing: repo)
        if let tag, !tag.isEmpty {
            try self.init(name: parsed.name, tag: tag)
        } else {
            self = parsed
        }
    }

    /// Docker's implicit registry and namespace are dropped so "docker.io/library/x" and "x" match.
    static func familiar(_ name: String) -> String {
        var rest = Substring(name)
        for registry in ["docker.io/", "index.docker.io/"] where rest.hasPrefix(registry) {
            rest = rest.dropFirst(registry.count)
            break
        }
        if rest.hasPrefix("library/"), !rest.dropFirst(8).contains("/") { rest = rest.dropFirst(8) }
        return String(rest)
    }

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard (1...128).contains(bytes.count) else { return false }
        func word(_ b: UInt8) -> Bool { isLower(b) || isUpper(b) || isDigit(b) || b == UInt8(ascii: "_") }
        return word(bytes[0]) && bytes.dropFirst().allSatisfy { word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 255 else { return false }
        var components = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // A first component with '.' or ':' (or "localhost") is a registry host, whose grammar differs.
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" {
            guard isValidDomain(first) else { return false }
            components.removeFirst()
        }
        return components.allSatisfy(isValidPathComponent)
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isValidPathComponent(_ component: String) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last,
              isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var index = 0
        while index < bytes.count {
            if isLowerAlnum(bytes[index]) { index += 1; continue }
            // A separator run: one '.', one or two '_', or any number of '-'.
            let start = index
            let separator = bytes[index]
            while index < bytes.count, bytes[index] == separator { index += 1 }
            let run = index - start
            switch separator {
            case UInt8(ascii: "."): guard run == 1 else { return false }
            case UInt8(ascii: "_"): guard run <= 2 else { return false }
            case UInt8(ascii: "-"): break
            default: return false
            }
        }
        return true
    }

    /// host labels (letters, digits, inner '-') joined by '.', optional ':port'.
    static func isValidDomain(_ domain: String) -> Bool {
        var host = Substring(domain)
        if let colon = domain.firstIndex(of: ":") {
            let port = domain[domain.index(after: colon)...]
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber) else { return false }
            host = domain[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last else { return false }
            func alnum(_ b: UInt8) -> Bool { isLower(b) || isUpper(b) || isDigit(b) }
            return alnum(first) && alnum(last) && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
        }
    }
}

@inline(__always) private func isLower(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }
@inline(__always) private func isUpper(_ b: UInt8) -> Bool { b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") }
@inline(__always) private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
@inline(__always) private func isLowerAlnum(_ b: UInt8) -> Bool { isLower(b) || isDigit(b) }

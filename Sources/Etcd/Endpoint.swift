/// One etcd member's client URL: where to connect and whether to speak TLS.
public struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var useTLS: Bool

    public static let defaultPort = 2379

    public init(host: String, port: Int = EtcdEndpoint.defaultPort, useTLS: Bool = false) {
        self.host = host
        self.port = port
        self.useTLS = useTLS
    }

    /// `http://127.0.0.1:2379`, with IPv6 hosts in brackets.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(useTLS ? "https" : "http")://\(shownHost):\(port)"
    }

    /// The value of the Host header: host and port, IPv6 in brackets.
    var hostHeader: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses a `--cluster-store` value: `etcd://h1:2379,h2:2379`, `http://h:2379`,
    /// `https://h:2379`, or a comma-separated list of such URLs. An item without a scheme
    /// takes the previous item's. `etcd://` means TLS exactly when `tls` is true (the daemon
    /// was given certificates); `http` and `https` say it themselves. The port defaults to 2379.
    public static func parseList(_ text: String, tls: Bool = false) throws -> [EtcdEndpoint] {
        let trimmed = text.trimmingWhitespace
        guard !trimmed.isEmpty else { throw EtcdError.invalidEndpoint(text, reason: "empty") }
        var result: [EtcdEndpoint] = []
        var scheme: Bool? = nil  // the TLS choice of the last scheme seen
        for rawItem in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            var item = Substring(String(rawItem).trimmingWhitespace)
            guard !item.isEmpty else { throw EtcdError.invalidEndpoint(text, reason: "empty item in list") }
            if let range = item.range(of: "://") {
                let name = item[..<range.lowerBound].lowercased()
                switch name {
                case "etcd": scheme = tls
                case "http": scheme = false
                case "https": scheme = true
                default: throw EtcdError.invalidEndpoint(text, reason: "unknown scheme \"\(name)\" (want etcd, http or https)")
                }
                item = item[range.upperBound...]
            }
            guard let useTLS = scheme else {
                throw EtcdError.invalidEndpoint(text, reason: "no scheme (want etcd://host:port)")
            }
            // A trailing slash is harmless; any other path is a mistake worth reporting.
            if item.hasSuffix("/") { item = item.dropLast() }
            if item.contains("/") || item.contains("?") || item.contains("#") {
                throw EtcdError.invalidEndpoint(text, reason: "\"\(rawItem)\" has a path; only host:port is allowed")
            }
            if item.contains("@") {
                throw EtcdError.invalidEndpoint(text, reason: "\"\(rawItem)\" has user info; etcd credentials are not supported")
            }
            let (host, port) = try splitHostPort(item, whole: text)
            result.append(EtcdEndpoint(host: host, port: port, useTLS: useTLS))
        }
        return result
    }

    private static func splitHostPort(_ item: Substring, whole: String) throws -> (String, Int) {
        var host: Substring
        var portText: Substring?
        if item.hasPrefix("[") {
            // [v6addr] or [v6addr]:port
            guard let close = item.firstIndex(of: "]") else {
                throw EtcdError.invalidEndpoint(whole, reason: "unclosed \"[\" in \"\(item)\"")
            }
            host = item[item.index(after: item.startIndex)..<close]
            let rest = item[item.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else {
                    throw EtcdError.invalidEndpoint(whole, reason: "junk after \"]\" in \"\(item)\"")
                }
                portText = rest.dropFirst()
            }
        } else {
            let colons = item.filter { $0 == ":" }.count
            if colons > 1 {
                throw EtcdError.invalidEndpoint(whole, reason: "IPv6 address \"\(item)\" needs brackets: [addr]:port")
            }
            if let colon = item.firstIndex(of: ":") {
                host = item[..<colon]
                portText = item[item.index(after: colon)...]
            } else {
                host = item
            }
        }
        guard !host.isEmpty else { throw EtcdError.invalidEndpoint(whole, reason: "missing host in \"\(item)\"") }
        let allowed = host.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" || $0 == "%" }
        guard allowed, host.allSatisfy(\.isASCII) else {
            throw EtcdError.invalidEndpoint(whole, reason: "bad host \"\(host)\"")
        }
        var port = defaultPort
        if let portText {
            guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(portText), (1...65535).contains(value) else {
                throw EtcdError.invalidEndpoint(whole, reason: "bad port \"\(portText)\" in \"\(item)\"")
            }
            port = value
        }
        return (String(host), port)
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let first = s.first, first.isWhitespace { s = s.dropFirst() }
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

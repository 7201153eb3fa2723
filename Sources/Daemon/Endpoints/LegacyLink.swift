import BerthCore

/// One `--link TARGET[:ALIAS]` as Docker reads it (its `opts.ParseLink`), and the
/// environment a legacy link on the default bridge gives the linking container.
struct LegacyLink: Equatable, Sendable {
    var target: String
    var alias: String

    /// "db" → db as db; "db:data" → db as data; "/db:/web/data", the form Docker's own
    /// inspect shows, → db as data.
    static func parse(_ text: String) throws(BerthError) -> LegacyLink {
        guard !text.isEmpty else { throw .invalid("empty string specified for links") }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2 else { throw .invalid("bad format for links: \(text)") }
        guard parts.count == 2 else { return LegacyLink(target: text, alias: text) }
        if parts[0].hasPrefix("/") {
            let alias = parts[1].split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? parts[1]
            return LegacyLink(target: String(parts[0].dropFirst()), alias: alias)
        }
        return LegacyLink(target: parts[0], alias: parts[1])
    }

    /// An exposed port as `Config.ExposedPorts` keys it ("80/tcp", "53/udp", "80").
    struct Port: Equatable, Sendable {
        var number: Int
        var transport: String

        init?(_ key: String) {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            guard let first = parts.first, let number = Int(first), (0...65535).contains(number) else { return nil }
            self.number = number
            transport = parts.count > 1 ? parts[1].lowercased() : "tcp"
        }

        /// Docker's order: tcp before anything else, then by transport name, then by number.
        static func sortsBefore(_ a: Port, _ b: Port) -> Bool {
            if a.transport == b.transport { return a.number < b.number }
            if a.transport == "tcp" { return true }
            if b.transport == "tcp" { return false }
            return a.transport < b.transport
        }
    }

    /// The variables Docker (API 1.47, before their removal in 1.52) sets for a link named
    /// `linkName` ("/web/db"): per exposed port `ALIAS_PORT_<n>_<PROTO>` with `_ADDR`,
    /// `_PORT`, `_PROTO`, the first port as `ALIAS_PORT`, runs of consecutive ports as
    /// `_START`/`_END`, then `ALIAS_NAME` and the target's own `Config.Env` as
    /// `ALIAS_ENV_<VAR>` (not HOME or PATH). ALIAS is the last part of the name, upper
    /// case, with "-" as "_".
    static func environment(linkName: String, targetAddress: String, targetEnv: [String],
                            exposedPorts: [String]) -> [String] {
        let last = linkName.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? linkName
        let alias = last.uppercased().replacingOccurrences(of: "-", with: "_")
        let ports = exposedPorts.compactMap(Port.init).sorted(by: Port.sortsBefore)
        var variables: [String] = []
        func url(_ port: Port) -> String { "\(port.transport)://\(targetAddress):\(port.number)" }
        func prefix(_ port: Port) -> String { "\(alias)_PORT_\(port.number)_\(port.transport.uppercased())" }
        if let first = ports.first {
            variables.append("\(alias)_PORT=\(url(first))")
            var start = first
            var end = first
            for (index, port) in ports.enumerated() {
                let name = prefix(port)
                variables.append("\(name)=\(url(port))")
                variables.append("\(name)_ADDR=\(targetAddress)")
                variables.append("\(name)_PORT=\(port.number)")
                variables.append("\(name)_PROTO=\(port.transport)")
                if index > 0, port.number == end.number + 1, port.transport == end.transport {
                    end = port
                    if index < ports.count - 1 { continue }
                }
                if end != start {
                    let range = prefix(start)
                    variables.append("\(range)_START=\(url(start))")
                    variables.append("\(range)_PORT_START=\(start.number)")
                    variables.append("\(range)_END=\(url(end))")
                    variables.append("\(range)_PORT_END=\(end.number)")
                }
                start = port
                end = port
            }
        }
        variables.append("\(alias)_NAME=\(linkName)")
        for entry in targetEnv {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            let name = entry[..<equals]
            if name == "HOME" || name == "PATH" { continue }
            variables.append("\(alias)_ENV_\(name)=\(entry[entry.index(after: equals)...])")
        }
        return variables
    }

    /// Docker's order of precedence: the container's own variables replace a link's of the
    /// same name.
    static func merge(linkVariables: [String], into own: [String]) -> [String] {
        let ownNames = Set(own.map { entry in entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry })
        return linkVariables.filter { entry in
            !ownNames.contains(entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry)
        } + own
    }
}

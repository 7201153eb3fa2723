import DockerAPI
import Foundation

func truncate(_ text: String, _ length: Int) -> String {
    text.count > length ? String(text.prefix(length - 1)) + "…" : text
}

/// "3 seconds ago", "5 minutes ago", as docker ps prints.
func ago(_ unixTime: Int64) -> String {
    // The time comes from the daemon: a nonsense one must not trap the subtraction.
    let (difference, overflow) = Int64(Date().timeIntervalSince1970).subtractingReportingOverflow(unixTime)
    let seconds = overflow ? 0 : max(0, difference)
    return HumanDuration.text(seconds: seconds) + " ago"
}

func printTable(headers: [String], keys: [String], rows: [[String: String]]) {
    var widths = headers.map(\.count)
    for row in rows {
        for (index, key) in keys.enumerated() { widths[index] = max(widths[index], row[key, default: ""].count) }
    }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { index, cell in
            index == cells.count - 1 ? cell : cell.padding(toLength: widths[index] + 3, withPad: " ", startingAt: 0)
        }.joined()
    }
    print(line(headers))
    for row in rows { print(line(keys.map { row[$0, default: ""] })) }
}

/// A small subset of Go templates, enough for `--format`: `{{.Field}}`, `{{.A.B}}`,
/// `{{json .A}}`, `{{index .A "key"}}` and `\t`/`\n`. Unknown fields print `<no value>`.
func renderTemplate(_ template: String, value: Any) -> String {
    var output = ""
    var rest = Substring(template.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n"))
    while let open = rest.range(of: "{{") {
        output += rest[..<open.lowerBound]
        guard let close = rest[open.upperBound...].range(of: "}}") else {
            output += rest[open.lowerBound...]
            return output
        }
        let action = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
        output += evaluate(action, value)
        rest = rest[close.upperBound...]
    }
    return output + rest
}

func renderTemplate(_ template: String, fields: [String: String]) -> String {
    renderTemplate(template, value: fields as [String: Any])
}

private func evaluate(_ action: String, _ root: Any) -> String {
    let words = action.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    if words.first == "json", words.count == 2 {
        let target = lookup(words[1], root) ?? NSNull()
        // A value JSON cannot hold prints as null rather than failing the whole template.
        if let data = try? JSONSerialization.data(withJSONObject: target, options: [.fragmentsAllowed, .sortedKeys]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "null"
    }
    if words.first == "index", words.count == 3, let map = lookup(words[1], root) as? [String: Any] {
        return text(map[words[2].trimmingCharacters(in: CharacterSet(charactersIn: "\""))])
    }
    guard words.count == 1 else { return "<unsupported: \(action)>" }
    return text(lookup(words[0], root))
}

private func lookup(_ path: String, _ root: Any) -> Any? {
    guard path.hasPrefix(".") else { return nil }
    var current: Any? = root
    for key in path.dropFirst().split(separator: ".") {
        current = (current as? [String: Any])?[String(key)]
    }
    return current
}

private func text(_ value: Any?) -> String {
    switch value {
    case nil, is NSNull: return "<no value>"
    case let string as String: return string
    case let number as NSNumber:
        // JSONSerialization gives booleans as NSNumber too; their Objective-C type is 'c'.
        if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
        return number.stringValue
    case let list as [Any]: return "[" + list.map { text($0) }.joined(separator: " ") + "]"
    case let map as [String: Any]:
        return "map[" + map.keys.sorted().map { "\($0):\(text(map[$0]))" }.joined(separator: " ") + "]"
    default: return "\(value ?? "")"
    }
}

func printInspected(_ objects: [Any], format: String?) throws {
    if let format {
        for object in objects { print(renderTemplate(format, value: object)) }
        return
    }
    let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

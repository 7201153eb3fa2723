/// What berth does with one key of a request body. A key an object's rule does not list is
/// one berth does not honour: it must hold its zero value, else the request is refused
/// naming it, so no option is ever accepted and silently ignored.
public indirect enum FieldRule: Sendable {
    /// berth acts on the value (checked further where it is used).
    case honoured
    /// An object with these keys; any other key must be zero.
    case object([String: FieldRule])
    /// An object used as a map (network name → settings): every value follows the rule.
    case eachValue(FieldRule)
    /// An array whose every element follows the rule.
    case eachElement(FieldRule)
    /// Not honoured, but these values mean what berth does anyway (clients send them by default,
    /// e.g. `IpcMode: "private"`); zero is accepted too.
    case accepts([JSONValue])
}

/// A body key berth would not honour.
public struct UnsupportedField: Error, Sendable, Equatable, CustomStringConvertible {
    /// Dotted path in the body, e.g. `HostConfig.Memory`.
    public var path: String
    /// The docker CLI option that sets it, when there is one.
    public var option: String?
    /// The value asked for, when it is a string ("syslog" for --log-driver), or the keys of
    /// an object ("max-size" for --log-opt).
    public var value: String?

    public init(path: String, option: String?, value: String? = nil) {
        self.path = path
        self.option = option
        self.value = value
    }

    public var description: String {
        "berth does not support \(path)" + (value.map { " \"\($0)\"" } ?? "") + (option.map { " (\($0))" } ?? "")
    }
}

public enum RequestFields {
    /// The first key of `body` (in sorted order, so the answer is stable) that `rule` does
    /// not honour and that holds a value other than zero or an accepted default.
    public static func unsupported(in body: JSONValue, rule: FieldRule, options: [String: String] = [:]) -> UnsupportedField? {
        firstUnsupported(body, rule, path: [], options: options)
    }

    private static func firstUnsupported(_ value: JSONValue, _ rule: FieldRule, path: [String],
                                         options: [String: String]) -> UnsupportedField? {
        switch rule {
        case .honoured:
            return nil
        case .accepts(let defaults):
            if value.isZero || defaults.contains(value) { return nil }
            return field(path, options, value)
        case .object(let keys):
            guard case .object(let members) = value else { return nil }  // wrong types are the decoder's to report
            for key in members.keys.sorted() {
                guard let member = members[key] else { continue }
                if let inner = keys[key] {
                    if let found = firstUnsupported(member, inner, path: path + [key], options: options) { return found }
                } else if !member.isZero {
                    return field(path + [key], options, member)
                }
            }
            return nil
        case .eachValue(let inner):
            guard case .object(let members) = value else { return nil }
            for key in members.keys.sorted() {
                guard let member = members[key] else { continue }
                if let found = firstUnsupported(member, inner, path: path + [key], options: options) { return found }
            }
            return nil
        case .eachElement(let inner):
            guard case .array(let elements) = value else { return nil }
            for (index, element) in elements.enumerated() {
                if let found = firstUnsupported(element, inner, path: path + ["\(index)"], options: options) { return found }
            }
            return nil
        }
    }

    private static func field(_ path: [String], _ options: [String: String], _ value: JSONValue) -> UnsupportedField {
        let dotted = path.joined(separator: ".")
        // Options are keyed without array indexes ("HostConfig.Mounts.VolumeOptions").
        let key = path.filter { Int($0) == nil }.joined(separator: ".")
        var asked: String?
        switch value {
        case .string(let text): asked = text
        case .object(let members): asked = members.keys.sorted().joined(separator: ",")  // e.g. --log-opt max-size
        default: asked = nil
        }
        return UnsupportedField(path: dotted, option: options[key], value: asked)
    }
}

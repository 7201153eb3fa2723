/// Any JSON value, for checking a request body key by key before it is decoded.
public enum JSONValue: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Go's zero value as clients serialise it: null, false, 0, "", [], {}, or an object
    /// whose every value is zero (`LogConfig: {"Type": "", "Config": {}}`).
    public var isZero: Bool {
        switch self {
        case .null: true
        case .bool(let value): !value
        case .number(let value): value == 0
        case .string(let value): value.isEmpty
        case .array(let values): values.isEmpty
        case .object(let members): members.values.allSatisfy(\.isZero)
        }
    }
}

/// Values written as their text form in JSON ("10.0.0.2", "10.0.0.0/24", "02:42:..."):
/// the form berth's records held before they were typed, so older records decode as they
/// are, and the form Docker's API uses.
public protocol TextCodable: Codable, CustomStringConvertible {
    init?(text: String)
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Self(text: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid \(Self.self) \"\(text)\"")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension IPv4Address: TextCodable { public init?(text: String) { self.init(text) } }
extension IPv6Address: TextCodable { public init?(text: String) { self.init(text) } }
extension IPAddress: TextCodable { public init?(text: String) { self.init(text) } }
extension IPv4Network: TextCodable { public init?(text: String) { self.init(text) } }
extension IPv6Network: TextCodable { public init?(text: String) { self.init(text) } }
extension MACAddress: TextCodable { public init?(text: String) { self.init(text) } }

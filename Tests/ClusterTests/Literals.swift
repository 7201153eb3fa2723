import BerthCore

// Test fixtures write addresses as literals; a bad literal is a broken test.
extension IPv4Address: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) {
        guard let value = IPv4Address(text) else { fatalError("bad IPv4 literal \(text)") }
        self = value
    }
}

extension IPv4Network: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) {
        guard let value = IPv4Network(text) else { fatalError("bad IPv4 prefix literal \(text)") }
        self = value
    }
}

extension MACAddress: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) {
        guard let value = MACAddress(text) else { fatalError("bad MAC literal \(text)") }
        self = value
    }
}

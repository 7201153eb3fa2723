/// A 48-bit Ethernet address.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 6 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Parses "aa:bb:cc:dd:ee:ff" (or with dashes).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var result: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            result.append(byte)
        }
        bytes = result
    }

    /// A locally administered unicast MAC derived from an IPv4 address, as Docker does
    /// (02:42 followed by the address), so a container's MAC is stable per address.
    public init(derivedFrom address: IPv4Address) {
        bytes = [0x02, 0x42] + address.bytes
    }

    public var isUnicast: Bool { bytes[0] & 0x01 == 0 }

    public var description: String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}

import BerthCore

/// The key sequence that ends an attach or exec session and leaves the container running.
enum DetachKeys {
    /// ctrl-p, ctrl-q, as Docker's.
    static let standard: [UInt8] = [0x10, 0x11]

    /// Docker's format: comma-separated keys, each a single character or `ctrl-<x>` with x
    /// a letter or one of `@[\]^_`.
    static func parse(_ text: String) throws(BerthError) -> [UInt8] {
        var keys: [UInt8] = []
        for key in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bytes = Array(key.utf8)
            if bytes.count == 1 {
                keys.append(bytes[0])
                continue
            }
            let lower = key.lowercased()
            guard lower.hasPrefix("ctrl-"), bytes.count == 6 else { throw invalid(text) }
            let x = Array(lower.utf8)[5]
            switch x {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): keys.append(x - UInt8(ascii: "a") + 1)
            case UInt8(ascii: "@"): keys.append(0)
            case UInt8(ascii: "["): keys.append(27)
            case UInt8(ascii: "\\"): keys.append(28)
            case UInt8(ascii: "]"): keys.append(29)
            case UInt8(ascii: "^"): keys.append(30)
            case UInt8(ascii: "_"): keys.append(31)
            default: throw invalid(text)
            }
        }
        guard !keys.isEmpty else { throw invalid(text) }
        return keys
    }

    private static func invalid(_ text: String) -> BerthError {
        BerthError.invalid("Invalid detach keys (\(text)) provided")
    }
}

/// Finds the detach sequence in a client's input: bytes that may start it are held back
/// until it is complete (detach) or broken (they are passed on).
struct DetachKeyScanner: Sendable {
    let keys: [UInt8]
    private var matched = 0

    init(keys: [UInt8]) { self.keys = keys }

    /// What to pass on, and whether the sequence was typed.
    mutating func feed(_ bytes: [UInt8]) -> (forward: [UInt8], detach: Bool) {
        guard !keys.isEmpty else { return (bytes, false) }
        var forward: [UInt8] = []
        for byte in bytes {
            if byte == keys[matched] {
                matched += 1
                if matched == keys.count { return (forward, true) }
                continue
            }
            forward += keys[0..<matched]
            matched = 0
            if byte == keys[0] {
                matched = 1
                if matched == keys.count { return (forward, true) }
            } else {
                forward.append(byte)
            }
        }
        return (forward, false)
    }
}

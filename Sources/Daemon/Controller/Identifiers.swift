import BerthCore

enum Identifiers {
    /// 64 hex characters, as Docker's IDs.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        text.reserveCapacity(64)
        for _ in 0..<4 {
            let word = generator.next() as UInt64
            let hex = String(word, radix: 16)
            text += String(repeating: "0", count: 16 - hex.count) + hex
        }
        return text
    }

    /// Whether `text` has the shape of an ID `random()` makes: 64 lowercase hex characters.
    static func isFullID(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Docker's container and network name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+
    static func validateName(_ name: String, kind: String) throws(BerthError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x5f || byte == 0x2e || byte == 0x2d
        }
        guard let first = name.utf8.first, name.utf8.count >= 1, name.utf8.count <= 128, allowed,
              first != 0x5f, first != 0x2e, first != 0x2d else {
            throw .invalid("invalid \(kind) name \"\(name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        }
    }

    private static let adjectives = ["brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
                                     "nifty", "proud", "quirky", "silly", "swift", "tender", "vivid", "witty", "zealous", "bold"]
    private static let nouns = ["albatross", "beacon", "cargo", "dock", "ensign", "ferry", "galley", "harbor", "island", "jetty",
                                "keel", "lighthouse", "mooring", "navigator", "oar", "pier", "quay", "rudder", "schooner", "tide"]

    /// Docker-style generated names ("adjective_noun"), numbered when taken.
    static func generatedName(isTaken: (String) -> Bool) -> String {
        var generator = SystemRandomNumberGenerator()
        for attempt in 0..<1000 {
            let base = "\(adjectives.randomElement(using: &generator) ?? "calm")_\(nouns.randomElement(using: &generator) ?? "dock")"
            let name = attempt < 10 ? base : "\(base)\(attempt)"
            if !isTaken(name) { return name }
        }
        return "berth_" + String(random().prefix(12))
    }
}

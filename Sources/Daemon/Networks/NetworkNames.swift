import BerthCore

/// Which names `network create` takes, as Docker decides: any name that is not blank and
/// not one of the names that stand for a network mode. Unlike a container name it may hold
/// spaces, dots or any other character: a network's name is a label for the API and never
/// a DNS name or a device name (records key networks by ID, bridges are named from it).
enum NetworkNames {
    /// The names `--network` reads as a mode (bridge, host, none, and "default" for bridge).
    static let modeNames: Set<String> = ["bridge", "host", "none", "default"]

    static func validate(_ name: String) throws(BerthError) {
        if name.allSatisfy(\.isWhitespace) {
            throw .invalid("invalid name: name is empty")
        }
        if modeNames.contains(name) {
            // Docker's words, its trailing space included.
            throw BerthError(.forbidden, "operation is not permitted on predefined \(name) network ")
        }
    }
}

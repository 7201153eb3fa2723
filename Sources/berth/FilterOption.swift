import Foundation

/// `--filter KEY=VALUE` flags as Docker's `filters` query (the daemon validates the keys
/// and values, so the CLI only checks the shape).
enum FilterOption {
    static func query(_ items: [String]) throws -> [(String, String)] {
        var filters: [String: [String: Bool]] = [:]
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw CLIFailure(message: "invalid filter \"\(item)\": expected KEY=VALUE")
            }
            filters[parts[0], default: [:]][parts[1]] = true
        }
        guard !filters.isEmpty else { return [] }
        return [("filters", String(decoding: try JSONEncoder().encode(filters), as: UTF8.self))]
    }
}

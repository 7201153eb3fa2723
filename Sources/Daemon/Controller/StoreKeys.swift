/// Where records live in the store.
enum StoreKeys {
    static let networkPrefix = "networks/"
    static let containerPrefix = "containers/"
    static let daemonID = "daemon/id"
    static func network(_ id: String) -> String { networkPrefix + id }
    static func container(_ id: String) -> String { containerPrefix + id }
}

/// Container interfaces being deleted in the background: while any are, their addresses
/// stay taken and their networks cannot be removed.
struct TeardownTracker: Sendable {
    private var perNetwork: [String: Int] = [:]
    private(set) var count = 0

    mutating func begin(networks: [String]) {
        for network in networks { perNetwork[network, default: 0] += 1 }
        count += 1
    }

    mutating func finish(networks: [String]) {
        for network in networks {
            let left = (perNetwork[network] ?? 1) - 1
            perNetwork[network] = left > 0 ? left : nil
        }
        count = max(0, count - 1)
    }

    func isBusy(network: String) -> Bool { perNetwork[network] != nil }
}

/// Durations of the network part of recent starts, stops and disconnects, for bench/.
struct NetworkTimings: Sendable {
    /// The network part of a start (the namespace and its interfaces).
    var attach = TimingWindow(capacity: 4096)
    /// What a stop or disconnect waits for of the teardown (the rest runs in the background).
    var detach = TimingWindow(capacity: 4096)
    /// How long the background part took until the addresses were free.
    var teardown = TimingWindow(capacity: 4096)
}

/// The last N durations of an operation, in microseconds.
struct TimingWindow: Sendable {
    private(set) var values: [Int64] = []
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    mutating func record(_ duration: Duration) {
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        if values.count == capacity { values.removeFirst(values.count / 2) }
        values.append(micros)
    }
}

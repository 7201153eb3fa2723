/// Callers of `wait` per container, and exits the store could not record (a full or
/// read-only root), which `stop` reports.
struct ExitWaiters {
    private var waiters: [String: [CheckedContinuation<Int32, Never>]] = [:]
    private var unrecorded: [String: any Error] = [:]

    mutating func add(_ id: String, _ waiter: CheckedContinuation<Int32, Never>) {
        waiters[id, default: []].append(waiter)
    }

    /// Wakes every caller waiting for `id` with its exit code.
    mutating func resume(_ id: String, exitCode: Int32) {
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.resume(returning: exitCode) }
    }

    mutating func exitNotRecorded(_ id: String, _ error: any Error) { unrecorded[id] = error }
    mutating func recorded(_ id: String) { unrecorded[id] = nil }
    func unrecordedExit(of id: String) -> (any Error)? { unrecorded[id] }
}

/// Callers of `wait` per container, and exits the store could not record (a full or
/// read-only root), which `stop` reports.
struct ExitWaiters {
    private var waiters: [String: [CheckedContinuation<Int32, Never>]] = [:]
    private var unrecorded: [String: any Error] = [:]
    /// Waiters registered before the caller awaits (`wait` answers its head first).
    private var callbacks: [String: [@Sendable (Int32) -> Void]] = [:]

    mutating func addCallback(_ id: String, _ callback: @escaping @Sendable (Int32) -> Void) {
        callbacks[id, default: []].append(callback)
    }

    mutating func add(_ id: String, _ waiter: CheckedContinuation<Int32, Never>) {
        waiters[id, default: []].append(waiter)
    }

    /// Wakes every caller waiting for `id` with its exit code.
    mutating func resume(_ id: String, exitCode: Int32) {
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.resume(returning: exitCode) }
        for callback in callbacks.removeValue(forKey: id) ?? [] { callback(exitCode) }
    }

    mutating func exitNotRecorded(_ id: String, _ error: any Error) { unrecorded[id] = error }
    mutating func recorded(_ id: String) { unrecorded[id] = nil }
    func unrecordedExit(of id: String) -> (any Error)? { unrecorded[id] }
}

import BerthCore
import Foundation
import Synchronization

/// An exit code that arrives later; `value()` waits for it without a thread.
final class ExitCodeLatch: Sendable {
    private let state = Mutex<(code: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))

    func finish(_ code: Int32) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int32, Never>] in
            guard state.code == nil else { return [] }
            state.code = code
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: code) }
    }

    func value() async -> Int32 {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Int32? in
                if let code = state.code { return code }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// `wait`'s `condition`.
enum WaitCondition: String, Sendable {
    case notRunning = "not-running"
    case nextExit = "next-exit"
    case removed

    init(query: String?) throws(BerthError) {
        guard let query, !query.isEmpty else {
            self = .notRunning
            return
        }
        guard let condition = WaitCondition(rawValue: query) else {
            throw BerthError.invalid("invalid condition: \"\(query)\"")
        }
        self = condition
    }
}

extension Controller {
    /// Registers a `wait` before answering, so an exit right after the response head (the
    /// docker CLI starts the container then) is not missed.
    func registerWait(_ reference: String, condition: WaitCondition) throws(BerthError) -> ExitCodeLatch {
        let record = try container(reference)
        let latch = ExitCodeLatch()
        let active: Bool
        switch record.state {
        case .running, .stopping, .starting: active = true
        case .created, .exited, .removing: active = false
        }
        switch condition {
        case .notRunning:
            if active {
                exitWaiters.addCallback(record.id) { latch.finish($0) }
            } else {
                latch.finish(record.exitCode)
            }
        case .nextExit:
            exitWaiters.addCallback(record.id) { latch.finish($0) }
        case .removed:
            // The code of the exit that comes first (or the last one), reported once the
            // container is gone.
            let code = Mutex<Int32>(record.exitCode)
            exitWaiters.addCallback(record.id) { value in code.withLock { $0 = value } }
            let id = record.id
            Task { [weak self] in
                while let self, await self.containers[id] != nil {
                    try? await Task.sleep(for: .milliseconds(50))
                }
                latch.finish(code.withLock { $0 })
            }
        }
        return latch
    }
}

import Dispatch
import Glibc
import Synchronization
import Testing
@testable import Threads

private struct Failure: Error, Equatable {
    let code: Int
}

@Suite struct DedicatedThreadTests {
    @Test func jobsRunInSubmissionOrder() async throws {
        let thread = try DedicatedThread(name: "order", makeContext: { [Int]() })
        for value in 0..<200 {
            thread.submit { $0.append(value) }
        }
        let seen = try await thread.run { $0 }
        #expect(seen == Array(0..<200))
    }

    @Test func runAndPerformReturnTheJobsResults() async throws {
        let thread = try DedicatedThread(name: "results", makeContext: { 40 })
        let sum = try await thread.run { context -> Int in
            context += 1
            return context + 1
        }
        #expect(sum == 42)
        // perform sees the context as the earlier job left it.
        #expect(try thread.perform { "\($0)" } == "41")
    }

    @Test func jobErrorsReachTheCallerAndTheThreadGoesOn() async throws {
        let thread = try DedicatedThread(name: "errors", makeContext: { 0 })
        await #expect(throws: Failure(code: 1)) {
            try await thread.run { _ -> Int in throw Failure(code: 1) }
        }
        #expect(throws: Failure(code: 2)) {
            try thread.perform { _ -> Int in throw Failure(code: 2) }
        }
        #expect(try await thread.run { $0 + 7 } == 7)
    }

    @Test func initReportsTheContextsFailure() {
        #expect(throws: Failure(code: 3)) {
            _ = try DedicatedThread<Int>(name: "fails", makeContext: { throw Failure(code: 3) })
        }
    }

    @Test func contextAndEveryJobAreOnOneOtherThread() async throws {
        let thread = try DedicatedThread(name: "one-thread", makeContext: { pthread_self() })
        var seen: [pthread_t] = []
        for _ in 0..<20 {
            seen.append(try await thread.run { creator in
                precondition(pthread_equal(creator, pthread_self()) != 0, "a job ran off the context's thread")
                return pthread_self()
            })
        }
        seen.append(try thread.perform { _ in pthread_self() })
        let first = try #require(seen.first)
        #expect(seen.allSatisfy { pthread_equal($0, first) != 0 })
        #expect(pthread_equal(first, pthread_self()) == 0)
    }

    @Test func theThreadCarriesItsNameTruncatedTo15Bytes() async throws {
        let thread = try DedicatedThread(name: "a-rather-long-thread-name", makeContext: { () })
        let name = try await thread.run { _ -> String in
            let fd = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return "" }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(fd, &buffer, buffer.count)
            return String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self)
                .trimmingSuffix(while: { $0 == "\n" })
        }
        #expect(name == "a-rather-long-t")
    }

    @Test func performFromItsOwnThreadFailsInsteadOfWaitingForever() async throws {
        let thread = try DedicatedThread(name: "reentrant", makeContext: { () })
        let error = try await thread.run { _ -> DedicatedThreadError? in
            do {
                _ = try thread.perform { _ in 1 }
                return nil
            } catch let error as DedicatedThreadError {
                return error
            }
        }
        #expect(error == .calledFromOwnThread)
    }

    @Test func idleRunsAfterABatchAndAgainAfterItsDelay() async throws {
        // Asks to be called again 1 ms later until it has run 5 times.
        let thread = try DedicatedThread(name: "idle", makeContext: { 0 }, idle: { calls in
            calls += 1
            return calls < 5 ? .milliseconds(1) : nil
        })
        thread.submit { _ in }
        try await Task.sleep(for: .milliseconds(500))
        // Read before the idle step that follows this job.
        #expect(try await thread.run { $0 } == 5)
    }

    @Test func aBurstOfJobsCostsOneIdleStep() async throws {
        let thread = try DedicatedThread(name: "burst", makeContext: { (jobs: 0, idle: 0) },
                                         idle: { $0.idle += 1; return nil })
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        thread.submit { _ in
            started.signal()
            release.wait()
        }
        started.wait()
        // Queued while the thread is busy: the 50 jobs and a look at the state after them.
        for _ in 0..<50 { thread.submit { $0.jobs += 1 } }
        let inBurst = Mutex<(jobs: Int, idle: Int)?>(nil)
        let burstDone = DispatchSemaphore(value: 0)
        thread.submit { state in
            inBurst.withLock { $0 = state }
            burstDone.signal()
        }
        release.signal()
        burstDone.wait()
        // Queued after the burst was taken: runs after its idle step.
        let after = try await thread.run { $0 }
        let seen = try #require(inBurst.withLock { $0 })
        // No idle step between the queued jobs: only the one after the blocking job.
        #expect(seen.jobs == 50 && seen.idle == 1)
        // And one after the burst.
        #expect(after.idle == 2)
    }

    @Test func releasingTheThreadEndsItAndDropsTheContextThere() async throws {
        let dropped = DispatchSemaphore(value: 0)
        let dropper = Mutex<pthread_t?>(nil)
        var worker: pthread_t?
        do {
            let thread = try DedicatedThread(name: "release", makeContext: {
                Tracked { dropper.withLock { $0 = pthread_self() }; dropped.signal() }
            })
            worker = try await thread.run { _ in pthread_self() }
        }
        #expect(dropped.wait(timeout: .now() + .seconds(10)) == .success)
        let dropperThread = try #require(dropper.withLock { $0 })
        let expected = try #require(worker)
        #expect(pthread_equal(dropperThread, expected) != 0)
    }

    @Test func durationsBecomeBoundedDispatchIntervals() {
        #expect(Core<Int>.dispatchInterval(.microseconds(2_020)) == .nanoseconds(2_020_000))
        #expect(Core<Int>.dispatchInterval(.seconds(-1)) == .nanoseconds(0))
        #expect(Core<Int>.dispatchInterval(.seconds(Int64.max)) == .seconds(3600))
    }
}

extension String {
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> String {
        var result = self
        while let last = result.last, predicate(last) { result.removeLast() }
        return result
    }
}

/// Reports its own release.
private final class Tracked {
    let onDeinit: () -> Void
    init(_ onDeinit: @escaping () -> Void) { self.onDeinit = onDeinit }
    deinit { onDeinit() }
}

import BerthCore
import Logging

/// The undo actions of an operation's completed steps. An operation (start, connect,
/// network create) registers each step's undo once the step has succeeded; if a later
/// step fails, `Steps.run` undoes them in reverse order. Every undo runs, even after
/// another one failed; their errors are logged with the step's name, never lost.
struct UndoList {
    private var steps: [(name: String, undo: () async throws -> Void)] = []

    mutating func add(_ name: String, undo: @escaping () async throws -> Void) {
        steps.append((name, undo))
    }

    var isEmpty: Bool { steps.isEmpty }

    /// Undoes every registered step, last first; returns what failed.
    fileprivate func unwind(_ operation: String, isolation: isolated (any Actor)? = #isolation) async -> StepFailures {
        var failures = StepFailures("undoing a failed \(operation)")
        for step in steps.reversed() {
            do { try await step.undo() } catch { failures.record(step.name, error) }
        }
        return failures
    }
}

enum Steps {
    /// Runs an operation whose steps register their undo in the list they are given; a
    /// thrown error undoes the completed steps in reverse, then is rethrown as it was.
    /// Runs on the caller's actor: the steps touch its state between their awaits.
    static func run<T>(_ operation: String, logger: Logger, isolation: isolated (any Actor)? = #isolation,
                       _ body: (inout UndoList) async throws -> T) async throws -> T {
        var undo = UndoList()
        do {
            return try await body(&undo)
        } catch {
            let failures = await undo.unwind(operation)
            if !failures.isEmpty {
                logger.error("\(failures)", metadata: ["cause": .string("\(error)")])
            }
            throw error
        }
    }
}

/// A teardown with awaited steps: every step runs whatever happened to the ones before,
/// each failure is logged with its step's name as it happens and kept (`StepFailures`,
/// which the targets below the daemon use for their synchronous teardowns).
struct Teardown {
    let logger: Logger
    private(set) var failures: StepFailures

    init(_ operation: String, logger: Logger) {
        self.logger = logger
        failures = StepFailures(operation)
    }

    mutating func step(_ name: String, isolation: isolated (any Actor)? = #isolation,
                       _ body: () async throws -> Void) async {
        do { try await body() } catch {
            failures.record(name, error)
            logger.warning("\(failures.operation): \(name) failed", metadata: ["error": .string("\(error)")])
        }
    }

    /// One error naming every failed step, or nil if all went well.
    var error: BerthError? { failures.error }
}

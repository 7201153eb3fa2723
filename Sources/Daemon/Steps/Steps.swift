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
    fileprivate func unwind(isolation: isolated (any Actor)? = #isolation) async -> [StepFailure] {
        var failures: [StepFailure] = []
        for step in steps.reversed() {
            do { try await step.undo() } catch { failures.append(StepFailure(step: step.name, error: error)) }
        }
        return failures
    }
}

struct StepFailure: Error, CustomStringConvertible {
    var step: String
    var error: any Error
    var description: String { "\(step): \(error)" }
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
            for failure in await undo.unwind() {
                logger.error("undoing a failed \(operation) failed", metadata: [
                    "step": .string(failure.step), "error": .string("\(failure.error)"), "cause": .string("\(error)"),
                ])
            }
            throw error
        }
    }
}

/// A teardown: every step runs whatever happened to the ones before, and the errors met
/// are collected, logged with their step's name, and given back to the caller.
struct Teardown {
    let operation: String
    let logger: Logger
    private(set) var failures: [StepFailure] = []

    init(_ operation: String, logger: Logger) {
        self.operation = operation
        self.logger = logger
    }

    mutating func step(_ name: String, isolation: isolated (any Actor)? = #isolation,
                       _ body: () async throws -> Void) async {
        do { try await body() } catch {
            failures.append(StepFailure(step: name, error: error))
            logger.warning("\(operation): \(name) failed", metadata: ["error": .string("\(error)")])
        }
    }

    /// One error naming every failed step, or nil if all went well.
    var error: BerthError? {
        guard !failures.isEmpty else { return nil }
        return BerthError(.internal, "\(operation): " + failures.map(\.description).joined(separator: "; "))
    }
}

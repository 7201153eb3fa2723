/// The failures of a teardown whose steps all run whatever happened to the ones before:
/// each failed step is kept with its name, and `error` is one error naming them all. For
/// the targets below the daemon, which have no logger of their own to hand every step to.
public struct StepFailures: Sendable, CustomStringConvertible {
    public struct Failure: Sendable, CustomStringConvertible {
        public var step: String
        public var error: String
        public var description: String { "\(step): \(error)" }
    }

    public let operation: String
    public private(set) var failures: [Failure] = []

    public init(_ operation: String) {
        self.operation = operation
    }

    public var isEmpty: Bool { failures.isEmpty }

    /// Runs one step; a failure is recorded, never thrown, so the next step runs too.
    public mutating func step(_ name: String, _ body: () throws -> Void) {
        do { try body() } catch { record(name, error) }
    }

    public mutating func record(_ step: String, _ error: any Error) {
        failures.append(Failure(step: step, error: String(describing: error)))
    }

    /// One error naming every failed step, or nil if all went well.
    public var error: BerthError? {
        guard !failures.isEmpty else { return nil }
        return BerthError(.internal, description)
    }

    /// Throws `error`, if any step failed.
    public func check() throws(BerthError) {
        if let error { throw error }
    }

    public var description: String {
        "\(operation): " + failures.map(\.description).joined(separator: "; ")
    }
}

import BerthCore
import Testing

@Suite struct StepFailuresTests {
    struct Boom: Error, CustomStringConvertible {
        var description: String
    }

    @Test func everyStepRunsAndEveryFailureIsNamed() {
        var ran: [String] = []
        var failures = StepFailures("destroy sandbox")
        failures.step("delete veth1") { ran.append("1"); throw Boom(description: "EBUSY") }
        failures.step("delete veth2") { ran.append("2") }
        failures.step("remove namespace") { ran.append("3"); throw Boom(description: "EACCES") }
        #expect(ran == ["1", "2", "3"])
        #expect(failures.failures.map(\.step) == ["delete veth1", "remove namespace"])
        let error = failures.error
        #expect(error?.code == .internal)
        #expect(error?.message == "destroy sandbox: delete veth1: EBUSY; remove namespace: EACCES")
        #expect(throws: BerthError.self) { try failures.check() }
    }

    @Test func noFailureIsNoError() throws {
        var failures = StepFailures("remove links")
        failures.step("delete a") {}
        #expect(failures.isEmpty)
        #expect(failures.error == nil)
        try failures.check()
    }

    @Test func recordedErrorsCount() {
        var failures = StepFailures("refill")
        failures.record("make spare", Boom(description: "ENOSPC"))
        #expect(!failures.isEmpty)
        #expect(failures.description == "refill: make spare: ENOSPC")
    }
}

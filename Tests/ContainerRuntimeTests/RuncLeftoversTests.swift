@testable import ContainerRuntime
import Foundation
import Testing

@Suite struct RuncLeftoversTests {
    let root = "/run/berth-x/runc"

    @Test func runcCallsOnThisRootThatChangeItsListArePending() {
        for command in ["run", "create", "start", "delete", "kill"] {
            let arguments = ["/usr/sbin/runc", "--root", root, "--log", "/run/berth-x/runc-log/1", "--log-format", "json", command, "abc"]
            #expect(RuncLeftovers.isPending(arguments: arguments, root: root), "\(command)")
        }
    }

    @Test func otherCallsAndOtherRootsAreNot() {
        #expect(!RuncLeftovers.isPending(arguments: ["runc", "--root", root, "--log", "l", "exec", "abc", "sh"], root: root))
        #expect(!RuncLeftovers.isPending(arguments: ["runc", "--root", root, "list"], root: root))
        #expect(!RuncLeftovers.isPending(arguments: ["runc", "--root", "/run/other/runc", "run", "abc"], root: root))
        #expect(!RuncLeftovers.isPending(arguments: ["runc", "init"], root: root))
        #expect(!RuncLeftovers.isPending(arguments: ["runc", "--root"], root: root))
        #expect(!RuncLeftovers.isPending(arguments: [], root: root))
    }

    @Test func aLiveProcessIsFoundAndWaitedFor() async throws {
        let root = "/tmp/berth-leftovers-\(getpid())"
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sh")
        // $0.. are the arguments runc would have: sh ignores them.
        sleeper.arguments = ["-c", "sleep 3", "runc", "--root", root, "--log", "l", "run", "abc"]
        try sleeper.run()
        // Until the child has exec'd, its command line is still the test's own.
        let deadline = ContinuousClock.now + .seconds(2)
        while !RuncLeftovers.pending(root: root).contains(sleeper.processIdentifier), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(RuncLeftovers.pending(root: root).contains(sleeper.processIdentifier))
        let started = ContinuousClock.now
        let left = await RuncLeftovers.waitForPending(root: root, timeout: .seconds(10))
        #expect(left.isEmpty)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        sleeper.waitUntilExit()
    }
}

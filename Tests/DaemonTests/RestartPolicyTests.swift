import BerthCore
@testable import Daemon
import DockerAPI
import Foundation
import Testing

/// The restart decision (pure), and restarts by policy over the fakes.
@Suite struct RestartPolicyTests {
    private func exit(_ code: Int32, count: Int = 0, manual: Bool = false, ran: Duration = .seconds(1),
                      previous: Duration? = nil, daemonStart: Bool = false) -> RestartPolicy.Exit {
        RestartPolicy.Exit(exitCode: code, restartCount: count, manuallyStopped: manual, ranFor: ran,
                           previousDelay: previous, atDaemonStart: daemonStart)
    }

    private func policy(_ name: String?, _ count: Int? = nil) throws -> RestartPolicy {
        try RestartPolicy.parse(HostConfig.RestartPolicy(Name: name, MaximumRetryCount: count))
    }

    @Test func parsingFollowsDockersRules() throws {
        #expect(try policy(nil) == .none)
        #expect(try policy("", 5) == .none)  // older clients' empty name
        #expect(try policy("no") == .none)
        #expect(try policy("always").kind == .always)
        #expect(try policy("on-failure", 3) == RestartPolicy(kind: .onFailure, maximumRetryCount: 3))
        #expect(throws: BerthError.self) { try policy("sometimes") }
        #expect(throws: BerthError.self) { try policy("on-failure", -1) }
        #expect(throws: BerthError.self) { try policy("always", 2) }
        #expect(throws: BerthError.self) { try policy("unless-stopped", -1) }
        do {
            _ = try policy("always", 2)
        } catch let error as BerthError {
            #expect(error.description.contains("maximum retry count can only be used with 'on-failure'"))
            #expect(error.code == .invalidArgument)
        }
        var host = HostConfig(AutoRemove: true)
        host.RestartPolicy = .init(Name: "always", MaximumRetryCount: 0)
        #expect(throws: BerthError.self) { try RestartPolicy.validate(host) }
        host.RestartPolicy = .init(Name: "no", MaximumRetryCount: 0)
        try RestartPolicy.validate(host)
    }

    @Test func decisionsPerPolicy() {
        let always = RestartPolicy(kind: .always, maximumRetryCount: 0)
        let unlessStopped = RestartPolicy(kind: .unlessStopped, maximumRetryCount: 0)
        let onFailure = RestartPolicy(kind: .onFailure, maximumRetryCount: 2)
        let first = RestartPolicy.Decision.restart(after: .milliseconds(100))
        #expect(RestartPolicy.none.decide(exit(1)) == .stayStopped)
        #expect(always.decide(exit(0)) == first)
        #expect(always.decide(exit(0, manual: true)) == .stayStopped)
        #expect(unlessStopped.decide(exit(0)) == first)
        #expect(unlessStopped.decide(exit(137, manual: true)) == .stayStopped)
        #expect(onFailure.decide(exit(0)) == .stayStopped)
        #expect(onFailure.decide(exit(1, count: 0)) == first)
        #expect(onFailure.decide(exit(1, count: 1)) == first)
        #expect(onFailure.decide(exit(1, count: 2)) == .stayStopped)
        #expect(onFailure.decide(exit(137, manual: true)) == .stayStopped)
        // No limit.
        #expect(RestartPolicy(kind: .onFailure, maximumRetryCount: 0).decide(exit(1, count: 500)) == first)
    }

    @Test func atDaemonStartAlwaysComesBackEvenAfterAStop() {
        let always = RestartPolicy(kind: .always, maximumRetryCount: 0)
        let unlessStopped = RestartPolicy(kind: .unlessStopped, maximumRetryCount: 0)
        let now = RestartPolicy.Decision.restart(after: .zero)
        #expect(always.decide(exit(143, manual: true, daemonStart: true)) == now)
        #expect(unlessStopped.decide(exit(143, manual: true, daemonStart: true)) == .stayStopped)
        #expect(unlessStopped.decide(exit(255, daemonStart: true)) == now)
        #expect(RestartPolicy.none.decide(exit(255, daemonStart: true)) == .stayStopped)
    }

    @Test func backoffDoublesToAMinuteAndResetsAfterASteadyRun() {
        let always = RestartPolicy(kind: .always, maximumRetryCount: 0)
        #expect(always.decide(exit(0, previous: .milliseconds(100))) == .restart(after: .milliseconds(200)))
        #expect(always.decide(exit(0, previous: .milliseconds(400))) == .restart(after: .milliseconds(800)))
        #expect(always.decide(exit(0, previous: .seconds(40))) == .restart(after: .seconds(60)))
        #expect(always.decide(exit(0, previous: .seconds(60))) == .restart(after: .seconds(60)))
        #expect(always.decide(exit(0, ran: .seconds(10), previous: .seconds(60))) == .restart(after: .milliseconds(100)))
    }

    // MARK: over the fakes

    private func create(_ daemon: Harness, _ name: String, policy: String, count: Int = 0) async throws -> String {
        var host = HostConfig()
        host.RestartPolicy = .init(Name: policy, MaximumRetryCount: count)
        let request = ContainerCreateRequest(config: ContainerConfig(Cmd: ["sleep", "600"], Image: "busybox"), HostConfig: host)
        let id = try await daemon.controller.createContainer(request, name: name).id
        try await daemon.controller.startContainer(id)
        return id
    }

    /// Waits (up to 5 s) until the container runs a process other than `pid`.
    private func restarted(_ daemon: Harness, _ id: String, from pid: Int32) async throws -> Int32 {
        for _ in 0..<500 {
            let state = try await daemon.inspect(id).State
            if state.Status == "running", state.Pid != pid { return state.Pid }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("container \(id) was not restarted")
        return 0
    }

    @Test func alwaysRestartsAfterAnExitAndCounts() async throws {
        try await withDaemon { daemon in
            let id = try await create(daemon, "a", policy: "always")
            let first = try #require(daemon.runtime.pid(of: id))
            daemon.runtime.exit(id, code: 0)
            let second = try await restarted(daemon, id, from: first)
            #expect(try await daemon.inspect(id).RestartCount == 1)
            daemon.runtime.exit(id, code: 3)
            _ = try await restarted(daemon, id, from: second)
            #expect(try await daemon.inspect(id).RestartCount == 2)
            // A user's stop is final; a user's start resets the count.
            #expect(try await daemon.controller.stopContainer(id, timeout: 0))
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await daemon.status(id) == "exited")
            try await daemon.controller.startContainer(id)
            #expect(try await daemon.inspect(id).RestartCount == 0)
        }
    }

    @Test func onFailureStopsAfterItsRetries() async throws {
        try await withDaemon { daemon in
            let id = try await create(daemon, "f", policy: "on-failure", count: 2)
            var pid = try #require(daemon.runtime.pid(of: id))
            for _ in 0..<2 {
                daemon.runtime.exit(id, code: 1)
                pid = try await restarted(daemon, id, from: pid)
            }
            daemon.runtime.exit(id, code: 1)
            try await Task.sleep(for: .milliseconds(600))
            let inspected = try await daemon.inspect(id)
            #expect(inspected.State.Status == "exited")
            #expect(inspected.RestartCount == 2)
            #expect(daemon.runtime.snapshot.launches.filter { $0.id == id }.count == 3)
        }
    }

    @Test func aPendingRestartShowsAsRestartingAndAStopCancelsIt() async throws {
        try await withDaemon { daemon in
            let id = try await create(daemon, "r", policy: "unless-stopped")
            // Three quick exits: the delay is 400 ms by the third.
            var pid = try #require(daemon.runtime.pid(of: id))
            for _ in 0..<2 {
                daemon.runtime.exit(id, code: 0)
                pid = try await restarted(daemon, id, from: pid)
            }
            daemon.runtime.exit(id, code: 0)
            try await Task.sleep(for: .milliseconds(50))
            let state = try await daemon.inspect(id).State
            #expect(state.Status == "restarting")
            #expect(state.Restarting && state.Running)
            #expect(await errorCode { try await daemon.controller.removeContainer(id, force: false) } == .conflict)
            #expect(try await daemon.controller.stopContainer(id, timeout: 0))
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await daemon.status(id) == "exited")
            #expect(daemon.runtime.pid(of: id) == pid)  // no launch after the stop
        }
    }

    @Test func aDaemonStartRestartsWhatStoppedWhileItWasAway() async throws {
        let first = try await Harness()
        defer { first.removeDirectory() }
        let always = try await create(first, "always", policy: "always")
        let unless = try await create(first, "unless", policy: "unless-stopped")
        let plain = try await first.run("plain")
        _ = try await first.controller.stopContainer(unless, timeout: 0)
        _ = try await first.controller.stopContainer(always, timeout: 0)
        // The plain one dies while berthd is down.
        let plainPid = try #require(first.runtime.pid(of: plain))
        first.runtime.setAlive(plainPid, false)
        let second = try await Harness(restarting: first)
        _ = try await restarted(second, always, from: 0)
        #expect(try await second.status(unless) == "exited")
        #expect(try await second.status(plain) == "exited")
    }
}

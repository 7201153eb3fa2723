@testable import Daemon
import DockerAPI
import Foundation
import Testing

private func record(_ log: EventLog, _ action: String, id: String = "c1") -> EventMessage {
    log.record(type: EventType.container, action: action, actor: EventActor(ID: id, Attributes: ["name": id]))
}

/// The event log: bounded, in time order, windows for `since`/`until`, live subscribers.
@Suite struct EventLogTests {
    @Test func aFullLogDropsTheOldest() {
        let log = EventLog(capacity: 3)
        for action in ["a", "b", "c", "d", "e"] { _ = record(log, action) }
        #expect(log.events().map(\.Action) == ["c", "d", "e"])
    }

    @Test func sinceAndUntilSelectAnInclusiveWindow() {
        let log = EventLog()
        let times = ["a", "b", "c", "d"].map { record(log, $0).timeNano }
        #expect(log.events(since: times[1], until: times[2]).map(\.Action) == ["b", "c"])
        let subscription = log.subscribe(since: times[2], until: nil) { _ in true }
        #expect(subscription.past.map(\.Action) == ["c", "d"])
        let untilOnly = log.subscribe(since: nil, until: times[0]) { _ in true }
        #expect(untilOnly.past.map(\.Action) == ["a"])
        // Neither bound: no past, as a plain `docker events` starts now.
        #expect(log.subscribe(since: nil, until: nil) { _ in true }.past.isEmpty)
    }

    @Test func timesNeverGoBackwards() {
        let log = EventLog()
        let events = (0..<200).map { record(log, "e\($0)") }
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.timeNano <= $1.timeNano })
    }

    @Test func aSubscriberGetsThePastThenLiveEventsItWants() async {
        let log = EventLog()
        let first = record(log, "create")
        let subscription = log.subscribe(since: first.timeNano, until: nil) { $0.Actor.ID == "c1" }
        _ = record(log, "start", id: "c2")
        _ = record(log, "start")
        var iterator = subscription.live.makeAsyncIterator()
        #expect(subscription.past.map(\.Action) == ["create"])
        #expect(await iterator.next()?.Action == "start")
        #expect(log.subscriberCount == 1)
    }

    @Test func droppingTheSubscriptionUnsubscribesAndEndsItsStream() async {
        let log = EventLog()
        var subscription: EventSubscription? = log.subscribe(since: nil, until: nil) { _ in true }
        let live = subscription?.live
        #expect(log.subscriberCount == 1)
        subscription = nil
        #expect(log.subscriberCount == 0)
        var iterator = live?.makeAsyncIterator()
        #expect(await iterator?.next() == nil)
    }

    /// A client that stops reading is cut off once its backlog is full: berthd never waits
    /// for it, and the others keep getting everything.
    @Test func aSubscriberThatFallsBehindIsCutOff() async {
        let log = EventLog(backlog: 2)
        let slow = log.subscribe(since: nil, until: nil) { _ in true }
        let other = log.subscribe(since: nil, until: nil) { _ in true }
        var received: [String] = []
        var otherIterator = other.live.makeAsyncIterator()
        for action in ["a", "b", "c", "d"] {
            _ = record(log, action)
            if let event = await otherIterator.next() { received.append(event.Action) }
        }
        #expect(received == ["a", "b", "c", "d"])
        #expect(log.subscriberCount == 1)
        var delivered: [String] = []
        for await event in slow.live { delivered.append(event.Action) }
        #expect(delivered == ["a", "b"])  // what it had room for, then the end
    }
}

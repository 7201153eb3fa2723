import DockerAPI
import Foundation
import Synchronization

/// The Docker events berthd has emitted (`GET /events`), kept in memory: the latest
/// `capacity` of them, so a client that reconnects with `since` gets what it missed while
/// berthd ran, and the live subscribers. Not the controller's internal `ControllerEvent`
/// stream (exits, teardowns), which clients never see.
///
/// Recording never waits for a client: each subscriber has a bounded backlog, and one that
/// falls `backlog` events behind is cut off (its stream ends) rather than slowing berthd
/// or silently missing events; it can reconnect with `since` and lose nothing the log holds.
final class EventLog: Sendable {
    private struct Subscriber {
        let continuation: AsyncStream<EventMessage>.Continuation
        let wants: @Sendable (EventMessage) -> Bool
    }

    private struct State {
        var ring = EventRing()
        var subscribers: [UInt64: Subscriber] = [:]
        var nextSubscriber: UInt64 = 0
        var lastTime: Int64 = 0
    }

    let capacity: Int
    let backlog: Int
    private let state = Mutex(State())

    /// 2,048 events (Docker keeps 256): a burst of container churn stays within reach of
    /// `since`, for at most a few MB of berthd's memory (an event with its attributes takes
    /// around a kilobyte).
    init(capacity: Int = 2_048, backlog: Int = 4_096) {
        self.capacity = max(1, capacity)
        self.backlog = max(1, backlog)
    }

    /// Logs an event now and hands it to the subscribers that want it.
    @discardableResult
    func record(type: String, action: String, actor: EventActor) -> EventMessage {
        let now = Self.now()
        var laggards: [AsyncStream<EventMessage>.Continuation] = []
        let event = state.withLock { state in
            // Never earlier than the one before (the wall clock may step back): the log stays
            // in time order, which `since` relies on.
            state.lastTime = max(state.lastTime, now)
            let event = EventMessage(type: type, action: action, actor: actor, timeNano: state.lastTime)
            state.ring.append(event, capacity: capacity)
            for (id, subscriber) in state.subscribers where subscriber.wants(event) {
                if case .dropped = subscriber.continuation.yield(event) {
                    state.subscribers[id] = nil
                    laggards.append(subscriber.continuation)
                }
            }
            return event
        }
        // Outside the lock: finishing runs the stream's termination handler, which takes it.
        for continuation in laggards { continuation.finish() }
        return event
    }

    /// The logged events in `since...until` (nanoseconds, both ends inclusive, as Docker)
    /// that `wants`, and from now on the live ones it wants, with none missing or repeated
    /// between the two. With neither bound there is no past, as in Docker: a plain
    /// `docker events` starts now. The subscription ends when the returned object goes.
    func subscribe(since: Int64?, until: Int64?, wants: @escaping @Sendable (EventMessage) -> Bool) -> EventSubscription {
        let (stream, continuation) = AsyncStream.makeStream(of: EventMessage.self, bufferingPolicy: .bufferingOldest(backlog))
        // One lock for both: an event logged meanwhile is either past or live, never both or neither.
        let (id, past) = state.withLock { state -> (UInt64, [EventMessage]) in
            let id = state.nextSubscriber
            state.nextSubscriber &+= 1
            state.subscribers[id] = Subscriber(continuation: continuation, wants: wants)
            guard since != nil || until != nil else { return (id, []) }
            return (id, state.ring.events(since: since ?? .min, until: until ?? .max).filter(wants))
        }
        return EventSubscription(log: self, id: id, past: past, live: stream)
    }

    /// The logged events in a window, oldest first.
    func events(since: Int64 = .min, until: Int64 = .max) -> [EventMessage] {
        state.withLock { $0.ring.events(since: since, until: until) }
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends a subscription: its live stream finishes.
    fileprivate func unsubscribe(_ id: UInt64) {
        let removed = state.withLock { $0.subscribers.removeValue(forKey: id) }
        removed?.continuation.finish()  // outside the lock, like every finish
    }

    /// The wall clock in nanoseconds since 1970, to the nanosecond (a Double would round).
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let (seconds, overflow) = Int64(spec.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : seconds &+ Int64(spec.tv_nsec)
    }
}

/// One client's view of the log: what it asked for of the past, then the live events.
/// Dropping it unsubscribes, also when a response is dropped before its stream ran.
final class EventSubscription: Sendable {
    let past: [EventMessage]
    /// Ends when the subscription does, or when the client fell `backlog` events behind.
    let live: AsyncStream<EventMessage>
    private let log: EventLog
    private let id: UInt64

    fileprivate init(log: EventLog, id: UInt64, past: [EventMessage], live: AsyncStream<EventMessage>) {
        self.log = log
        self.id = id
        self.past = past
        self.live = live
    }

    deinit { log.unsubscribe(id) }
}

/// The newest events up to a capacity, oldest first; the oldest go when it is full.
struct EventRing {
    private var storage: [EventMessage] = []
    /// Where the oldest event is once the storage is full.
    private var start = 0

    var count: Int { storage.count }

    mutating func append(_ event: EventMessage, capacity: Int) {
        if storage.count < capacity {
            storage.append(event)
        } else {
            storage[start] = event
            start = (start + 1) % storage.count
        }
    }

    var ordered: [EventMessage] { Array(storage[start...] + storage[..<start]) }

    /// Events are in time order, so the window is found from the newest end.
    func events(since: Int64, until: Int64) -> [EventMessage] {
        var result: [EventMessage] = []
        for event in ordered.reversed() {
            if event.timeNano < since { break }
            if event.timeNano <= until { result.append(event) }
        }
        return result.reversed()
    }
}

import BerthCore
import DockerAPI
import HTTPUnix

extension APIRoutes {
    /// `GET /events`, as moby's `getEvents`: the logged events of the `since`/`until` window
    /// that the filters select, then live ones, as newline-delimited JSON, until `until`
    /// passes or the client leaves. An `until` already past ends after the logged ones.
    func addEventRoutes(_ router: inout Router) {
        let log = controller.eventLog
        router.add(.GET, "/events") { request in
            await respond {
                let sinceText = request.query["since"], untilText = request.query["until"]
                let since = try EventTime.nanoseconds(sinceText, name: "since")
                let until = try EventTime.nanoseconds(untilText, name: "until")
                if let since, let until, until < since {
                    throw BerthError.invalid("`since` time (\(sinceText ?? "")) cannot be after `until` time (\(untilText ?? ""))")
                }
                let filter = try EventFilter(request.filters())
                // Subscribed before the response head goes out: a client that acts once it
                // has the head sees the events of what it did.
                let subscription = log.subscribe(since: since, until: until) { event in
                    filter.matches(event) && event.timeNano >= since ?? .min && event.timeNano <= until ?? .max
                }
                let now = EventLog.now()
                let remaining = until.map { $0.subtractingReportingOverflow(now) }.map { $0.overflow ? Int64.max : $0.partialValue }
                return .stream(.ok) { writer in
                    try await Self.send(subscription, for: remaining, to: writer)
                }
            }
        }
    }

    /// Writes the subscription's past events, then its live ones for `remaining`
    /// nanoseconds (nil: until the client leaves or the stream ends).
    private static func send(_ subscription: EventSubscription, for remaining: Int64?, to writer: StreamWriter) async throws {
        for event in subscription.past { try await writer.writeJSON(event) }
        if let remaining, remaining < 0 { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in subscription.live { try await writer.writeJSON(event) }
            }
            if let remaining {
                group.addTask { try await Task.sleep(for: .nanoseconds(remaining)) }
            }
            // The first to finish ends the response: the deadline, the client's leaving, or a
            // live stream cut off because the client fell too far behind.
            _ = try await group.next()
            group.cancelAll()
        }
    }
}

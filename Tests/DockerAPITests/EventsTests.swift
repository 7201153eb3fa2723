import BerthCore
import DockerAPI
import Foundation
import Testing

@Suite struct EventMessageTests {
    @Test func containerEventsCarryDockersLegacyFields() throws {
        let event = EventMessage(type: "container", action: "die",
                                 actor: EventActor(ID: "abc", Attributes: ["image": "busybox", "exitCode": "3"]),
                                 timeNano: 1_764_777_600_123_456_789)
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? [String: Any])
        #expect(object["Type"] as? String == "container")
        #expect(object["status"] as? String == "die")
        #expect(object["id"] as? String == "abc")
        #expect(object["from"] as? String == "busybox")
        #expect(object["scope"] as? String == "local")
        #expect((object["time"] as? NSNumber)?.int64Value == 1_764_777_600)
        #expect((object["timeNano"] as? NSNumber)?.int64Value == 1_764_777_600_123_456_789)
        #expect(try JSONDecoder().decode(EventMessage.self, from: JSONEncoder().encode(event)) == event)
    }

    @Test func networkEventsHaveNoLegacyFields() throws {
        let event = EventMessage(type: "network", action: "connect", actor: EventActor(ID: "n", Attributes: [:]), timeNano: 5)
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? [String: Any])
        #expect(object["status"] == nil && object["id"] == nil && object["from"] == nil)
    }
}

@Suite struct EventTimeTests {
    @Test func unixSecondsWithAnOptionalFraction() throws {
        #expect(try EventTime.nanoseconds("1700000000", name: "since") == 1_700_000_000_000_000_000)
        #expect(try EventTime.nanoseconds("1700000000.5", name: "since") == 1_700_000_000_500_000_000)
        #expect(try EventTime.nanoseconds("1700000000.000000001", name: "since") == 1_700_000_000_000_000_001)
        #expect(try EventTime.nanoseconds(nil, name: "since") == nil)
        #expect(try EventTime.nanoseconds("", name: "since") == nil)
    }

    @Test func anythingElseIsRefusedNamingTheParameter() {
        for text in ["10m", "2026-12-03T10:00:00Z", "-5", "1.", ".5", "1.5.5", "99999999999999999999", "1e9"] {
            #expect(throws: BerthError.self) { try EventTime.nanoseconds(text, name: "until") }
        }
        do {
            _ = try EventTime.nanoseconds("10m", name: "until")
        } catch {
            #expect(error.message.contains("until"))
        }
    }
}

import Netlink
import Testing
@testable import Firewall

@Suite struct RulesetEventsTests {
    /// One nfnetlink message: nlmsghdr, nfgenmsg, attributes.
    func message(kind: UInt16, attributes: AttributeWriter) -> [UInt8] {
        NetlinkMessage(type: 10 << 8 | kind, flags: 0, header: [1, 0, 0, 0], attributes: attributes).encoded(sequence: 0)
    }

    func named(_ table: String) -> AttributeWriter {
        var writer = AttributeWriter()
        writer.append(1, bytes: Array(table.utf8) + [0])
        return writer
    }

    func generation(pid: UInt32) -> [UInt8] {
        var writer = AttributeWriter()
        writer.append(1, bytes: [0, 0, 0, 7])
        writer.append(2, bytes: [UInt8(pid >> 24), UInt8(pid >> 16 & 0xff), UInt8(pid >> 8 & 0xff), UInt8(pid & 0xff)])
        return message(kind: 15, attributes: writer)
    }

    @Test func aRuleDeletedFromTheUserChainIsNotTampering() {
        var user = named("berth")
        user.append(2, bytes: Array("user".utf8) + [0])
        var forward = named("berth")
        forward.append(2, bytes: Array("forward".utf8) + [0])
        let datagram = message(kind: 8, attributes: user) + message(kind: 8, attributes: forward) + message(kind: 6, attributes: named("filter"))
        #expect(RulesetEvents.parse(datagram) == [.changed(table: "berth"), .deleted(table: "berth"), .changed(table: "filter")])
    }

    @Test func parsesDeletionsAndCommits() {
        let datagram = message(kind: 2, attributes: named("berth")) + message(kind: 8, attributes: named("filter"))
            + message(kind: 12, attributes: named("berth")) + generation(pid: 4242)
        #expect(RulesetEvents.parse(datagram) == [.deleted(table: "berth"), .deleted(table: "filter"), .committed(pid: 4242)])
        #expect(RulesetEvents.parse([1, 2, 3]).isEmpty)
    }

    func observe(_ tamper: inout RulesetEvents.Tamper, _ event: RulesetEvent) -> Bool { tamper.observe(event) }

    @Test func tamperIsAnotherProcessDeletingOurTable() {
        var tamper = RulesetEvents.Tamper(table: "berth", ownPID: 100)
        // Our own full restore deletes and recreates the table: not tampering.
        #expect(!observe(&tamper, .deleted(table: "berth")))
        #expect(!observe(&tamper, .committed(pid: 100)))
        // Someone else touching another table: not ours.
        #expect(!observe(&tamper, .deleted(table: "filter")))
        #expect(!observe(&tamper, .committed(pid: 7)))
        // `nft flush ruleset`.
        #expect(!observe(&tamper, .deleted(table: "berth")))
        #expect(observe(&tamper, .committed(pid: 7)))
        // Each commit stands alone.
        #expect(!observe(&tamper, .committed(pid: 7)))
    }

    @Test func commitsOfBerthsFirewallThreadAreItsOwn() {
        // The kernel reports the committing thread's id: berth's restores come from its
        // firewall thread (201), not the process's main thread (100).
        var tamper = RulesetEvents.Tamper(table: "berth", ownPIDs: [100, 201])
        #expect(!observe(&tamper, .deleted(table: "berth")))
        #expect(!observe(&tamper, .committed(pid: 201)))
        #expect(!observe(&tamper, .deleted(table: "berth")))
        #expect(observe(&tamper, .committed(pid: 202)))
    }
}

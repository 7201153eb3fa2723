@testable import Daemon
import BerthCore
import Foundation
import HTTPUnix
import Testing

@Suite("Container stdio: json-file log, log queries, detach keys")
struct StdioTests {
    @Test func jsonLogLineRoundTripsAndEscapes() throws {
        let time = LogTime(seconds: 1_700_000_000, nanoseconds: 123_456_789)
        let entry = LogEntry(stream: .stderr, time: time, bytes: Array("a \"q\" \\ \t\u{1}é\n".utf8))
        let line = JSONLog.line(entry)
        let text = String(decoding: line, as: UTF8.self)
        #expect(text == #"{"log":"a \"q\" \\ \t\u0001é\n","stream":"stderr","time":"2023-11-14T22:13:20.123456789Z"}"# + "\n")
        #expect(JSONLog.parse(line.dropLast()) == entry)
        #expect(JSONLog.parse(Array("{\"log\":\"x".utf8)) == nil)
    }

    @Test func invalidUTF8BecomesTheReplacementCharacter() {
        let line = JSONLog.line(LogEntry(stream: .stdout, time: nil, bytes: [0x61, 0xFF, 0x62]))
        #expect(JSONLog.parse(line.dropLast())?.bytes == Array("a\u{FFFD}b".utf8))
    }

    @Test func rfc3339TimesParseWithAnyPrecisionAndZone() {
        #expect(LogTime(rfc3339: "2023-11-14T22:13:20Z") == LogTime(seconds: 1_700_000_000, nanoseconds: 0))
        #expect(LogTime(rfc3339: "2023-11-14T22:13:20.5Z") == LogTime(seconds: 1_700_000_000, nanoseconds: 500_000_000))
        #expect(LogTime(rfc3339: "2023-11-14T23:13:20.000000001+01:00") == LogTime(seconds: 1_700_000_000, nanoseconds: 1))
        #expect(LogTime(rfc3339: "2023-11-14 22:13:20Z") == nil)
        #expect(LogTime(rfc3339: "2023-11-14T22:13:20.Z") == nil)
        #expect(LogTime(unixText: "1700000000.5") == LogTime(seconds: 1_700_000_000, nanoseconds: 500_000_000))
        #expect(LogTime(unixText: "1700000000") == LogTime(seconds: 1_700_000_000, nanoseconds: 0))
        #expect(LogTime(unixText: "1h") == nil)
        #expect(LogTime(unixText: "1.1234567890") == nil)
    }

    @Test func linesAreSplitAtNewlinesAndCappedInLength() {
        var splitter = LineSplitter()
        #expect(splitter.feed(Array("a\nb".utf8)) == [Array("a\n".utf8)])
        #expect(splitter.feed(Array("c\n\n".utf8)) == [Array("bc\n".utf8), Array("\n".utf8)])
        #expect(splitter.feed(Array("tail".utf8)) == [])
        #expect(splitter.finish() == Array("tail".utf8))
        #expect(splitter.finish() == nil)
        let long = [UInt8](repeating: 0x61, count: LineSplitter.maxLine + 10)
        #expect(splitter.feed(long).map(\.count) == [LineSplitter.maxLine])
    }

    @Test func logQueryReadsDockersParametersAndRefusesBadOnes() throws {
        let query = try LogQuery(query: QueryParameters([("stdout", "1"), ("tail", "2"), ("timestamps", "true"),
                                                         ("since", "1700000000.000000001")]))
        #expect(query.stdout && !query.stderr && query.timestamps && query.tail == 2)
        let early = LogEntry(stream: .stdout, time: LogTime(seconds: 1_700_000_000, nanoseconds: 0), bytes: [0x61])
        let late = LogEntry(stream: .stdout, time: LogTime(seconds: 1_700_000_001, nanoseconds: 0), bytes: [0x61])
        let error = LogEntry(stream: .stderr, time: LogTime(seconds: 1_700_000_001, nanoseconds: 0), bytes: [0x61])
        #expect(!query.wants(early) && query.wants(late) && !query.wants(error))
        #expect(String(decoding: query.payload(late), as: UTF8.self) == "2023-11-14T22:13:21.000000000Z a")
        #expect(try LogQuery(query: QueryParameters([("stderr", "1"), ("tail", "all")])).tail == nil)
        #expect(throws: BerthError.self) { try LogQuery(query: QueryParameters([("stdout", "1"), ("tail", "x")])) }
        #expect(throws: BerthError.self) { try LogQuery(query: QueryParameters([("stdout", "1"), ("since", "1h")])) }
        #expect(throws: BerthError.self) { try LogQuery(query: QueryParameters([("tail", "1")])) }
    }

    @Test func logFilesAreReadWithTheirLastLineAndOldRawLogs() throws {
        let directory = NSTemporaryDirectory() + "stdio-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("old one\nold two".utf8).write(to: URL(fileURLWithPath: directory + "/container.log"))
        var raw = try #require(LogFileReader(directory: directory, id: "c"))
        #expect(raw.readAvailable().map(\.bytes) == [Array("old one\n".utf8)])
        #expect(raw.rest().map(\.bytes) == [Array("old two".utf8)])
        raw.close()
        let lines = (1...3).map { JSONLog.line(LogEntry(stream: .stdout, time: nil, bytes: Array("l\($0)\n".utf8))) }
        // A torn last line (a write in progress) waits for its end.
        try Data(Array(lines.joined()) + lines[0].prefix(5)).write(to: URL(fileURLWithPath: directory + "/c-json.log"))
        // The old raw log comes first, whole, then the json-file one.
        var json = try #require(LogFileReader(directory: directory, id: "c"))
        #expect(json.readAvailable().map(\.bytes) == ["old one\n", "old two"].map { Array($0.utf8) } + (1...3).map { Array("l\($0)\n".utf8) })
        #expect(json.rest().isEmpty)
        json.close()
    }

    @Test func detachKeysParseAsDockersAndRefuseTheRest() throws {
        #expect(try DetachKeys.parse("ctrl-p,ctrl-q") == [0x10, 0x11])
        #expect(try DetachKeys.parse("ctrl-x,y") == [0x18, UInt8(ascii: "y")])
        #expect(try DetachKeys.parse("ctrl-@,ctrl-[,ctrl-_") == [0, 27, 31])
        for bad in ["ctrl-1", "ctrlp", "ab", "", "ctrl-p,", "ctrl-pp"] {
            #expect(throws: BerthError.self, "\(bad)") { try DetachKeys.parse(bad) }
        }
    }

    @Test func detachScannerHoldsAPrefixAndPassesItOnWhenBroken() {
        var scanner = DetachKeyScanner(keys: [0x10, 0x11])
        #expect(scanner.feed([0x61, 0x10]) == ([0x61], false))
        #expect(scanner.feed([0x62]) == ([0x10, 0x62], false))
        #expect(scanner.feed([0x10, 0x10]) == ([0x10], false))
        #expect(scanner.feed([0x11, 0x63]) == ([], true))
        var single = DetachKeyScanner(keys: [0x18])
        #expect(single.feed([0x61, 0x18, 0x62]) == ([0x61], true))
    }
}

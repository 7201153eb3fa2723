import DockerAPI
import Testing

@Suite struct HumanDurationTests {
    @Test(arguments: [
        (0, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (61, "About a minute"),
        (600, "10 minutes"), (3600, "About an hour"), (7200, "2 hours"), (172_800, "2 days"),
    ] as [(Int64, String)])
    func wordsAsDocker(seconds: Int64, text: String) {
        #expect(HumanDuration.text(seconds: seconds) == text)
    }

    @Test func nonsenseIntervalsDoNotTrap() {
        #expect(HumanDuration.text(interval: .nan) == "Less than a second")
        #expect(HumanDuration.text(interval: .infinity) == "Less than a second")
        #expect(HumanDuration.text(interval: -5) == "Less than a second")
        #expect(HumanDuration.text(interval: 1e300) == "\(Int64(1e15) / 86400) days")
    }
}

import BerthCore
import DockerAPI
import Foundation
import Testing

/// The message of the BerthError `body` throws, or nil if it does not throw.
private func refusal(_ body: () throws -> Void) -> String? {
    do { try body() } catch let error as BerthError { return error.message } catch { return "\(error)" }
    return nil
}

private func container(_ name: String, labels: [String: String] = [:], state: String = "running",
                       exitCode: Int32 = 0, created: TimeInterval = 100) -> ContainerFacts {
    ContainerFacts(id: "abc123" + name, name: name, labels: labels, state: state, exitCode: exitCode, hasStarted: state != "created",
                   imageID: "sha256:img", networkNames: ["bridge"], networkIDs: ["netid1"], exposedPorts: ["80/tcp", "53/udp"],
                   publishedPorts: ["8080/tcp"], created: Date(timeIntervalSince1970: created))
}

private func containerFilter(_ json: String) throws -> ContainerFilter {
    try ContainerFilter(try Filters.parse(json), imageID: { $0 == "busybox" ? "sha256:img" : nil }) {
        (reference: String) throws(BerthError) -> Date in
        guard reference == "mid" else { throw .notFound("No such container: \(reference)") }
        return Date(timeIntervalSince1970: 200)
    }
}

@Suite struct FiltersParseTests {
    @Test func parsesBothShapes() throws {
        let list = try Filters.parse(#"{"label":["a=b","c"],"name":["web"]}"#)
        let map = try Filters.parse(#"{"label":{"a=b":true,"c":true},"name":{"web":true}}"#)
        #expect(list == map)
        #expect(list.values("label") == ["a=b", "c"])
        #expect(try Filters.parse(nil).isEmpty)
        #expect(try Filters.parse("").isEmpty)
    }

    @Test func refusesMalformedJSONAndValues() {
        #expect(refusal { _ = try Filters.parse("{not json") } != nil)
        #expect(refusal { _ = try Filters.parse(#"{"name":"web"}"#) } != nil)
        #expect(refusal { _ = try Filters.parse(#"{"name":{"web":false}}"#) } != nil)
    }

    @Test func unknownKeyUsesDockersWording() throws {
        let filters = try Filters.parse(#"{"xyz":["1"]}"#)
        #expect(refusal { try filters.requireKeys(in: ["name"]) } == "invalid filter 'xyz'")
    }

    @Test func labelTermsAreAnded() throws {
        let filters = try Filters.parse(#"{"label":["p=a","oneoff=False"]}"#)
        #expect(filters.matchLabels("label", ["p": "a", "oneoff": "False"]))
        #expect(!filters.matchLabels("label", ["p": "a"]))
        #expect(!filters.matchLabels("label", ["p": "b", "oneoff": "False"]))
        #expect(try Filters.parse(#"{"label":["p"]}"#).matchLabels("label", ["p": "anything"]))
        #expect(refusal { try Filters.parse(#"{"label":["=x"]}"#).requireLabelTerms("label") } != nil)
    }

    @Test func nameMatchesAsRegularExpression() throws {
        let filters = try Filters.parse(#"{"name":["^web$","db"]}"#)
        #expect(filters.match("name", "web"))
        #expect(filters.match("name", "mydb1"))
        #expect(!filters.match("name", "web2"))
        #expect(try Filters.parse(#"{"name":["(["]}"#).match("name", "(["))
    }

    @Test func readsTimestampsDurationsAndPorts() throws {
        let now = Date(timeIntervalSince1970: 10_000)
        #expect(DockerTimestamp.parse("1h30m", now: now) == Date(timeIntervalSince1970: 10_000 - 5_400))
        #expect(DockerTimestamp.parse("500ms", now: now) == Date(timeIntervalSince1970: 9_999.5))
        #expect(DockerTimestamp.parse("1700000000", now: now) == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(DockerTimestamp.parse("2023-11-14T22:13:20Z", now: now) == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(DockerTimestamp.parse("yesterday", now: now) == nil)
        #expect(refusal { _ = try Filters.parse(#"{"until":["soon"]}"#).timestamp("until") } != nil)
        #expect(try Filters.parse(#"{"expose":["79-81","53/udp"]}"#).ports("expose") == ["79/tcp", "80/tcp", "81/tcp", "53/udp"])
        #expect(refusal { _ = try Filters.parse(#"{"expose":["abc"]}"#).ports("expose") } != nil)
        #expect(refusal { _ = try Filters.parse(#"{"expose":["90-80"]}"#).ports("expose") } != nil)
        #expect(refusal { _ = try Filters.parse(#"{"dangling":["maybe"]}"#).bool("dangling") } != nil)
    }
}

@Suite struct ContainerFilterTests {
    @Test func composeProjectSelectsOnlyItsContainers() throws {
        let filter = try containerFilter(#"{"label":{"com.docker.compose.project=a":true,"com.docker.compose.oneoff=False":true}}"#)
        let mine = container("a_web_1", labels: ["com.docker.compose.project": "a", "com.docker.compose.oneoff": "False"])
        #expect(filter.matches(mine))
        #expect(!filter.matches(container("web")))
        #expect(!filter.matches(container("b_web_1", labels: ["com.docker.compose.project": "b", "com.docker.compose.oneoff": "False"])))
    }

    @Test func appliesEachDocumentedKey() throws {
        let running = container("one")
        let exited = container("two", state: "exited", exitCode: 3, created: 300)
        #expect(try containerFilter(#"{"status":["exited"]}"#).matches(exited))
        #expect(try !containerFilter(#"{"status":["exited"]}"#).matches(running))
        #expect(try containerFilter(#"{"status":["exited"]}"#).impliesAll)
        #expect(try containerFilter(#"{"exited":["3"]}"#).matches(exited))
        #expect(try !containerFilter(#"{"exited":["0"]}"#).matches(running))
        #expect(try containerFilter(#"{"id":["abc123o"]}"#).matches(running))
        #expect(try !containerFilter(#"{"id":["ffff"]}"#).matches(running))
        #expect(try containerFilter(#"{"network":["bridge"]}"#).matches(running))
        #expect(try containerFilter(#"{"network":["netid"]}"#).matches(running))
        #expect(try !containerFilter(#"{"network":["other"]}"#).matches(running))
        #expect(try containerFilter(#"{"ancestor":["busybox"]}"#).matches(running))
        #expect(try !containerFilter(#"{"ancestor":["unknown"]}"#).matches(running))
        #expect(try containerFilter(#"{"publish":["8080"]}"#).matches(running))
        #expect(try !containerFilter(#"{"publish":["80"]}"#).matches(running))
        #expect(try !containerFilter(#"{"publish":["53/udp"]}"#).matches(running))
        #expect(try containerFilter(#"{"expose":["53/udp"]}"#).matches(running))
        #expect(try containerFilter(#"{"before":["mid"]}"#).matches(running))
        #expect(try !containerFilter(#"{"before":["mid"]}"#).matches(exited))
        #expect(try containerFilter(#"{"since":["mid"]}"#).matches(exited))
        #expect(try containerFilter(#"{"health":["none"]}"#).matches(running))
        #expect(try !containerFilter(#"{"health":["healthy"]}"#).matches(running))
        #expect(try containerFilter(#"{"is-task":["false"]}"#).matches(running))
        #expect(try !containerFilter(#"{"is-task":["true"]}"#).matches(running))
        #expect(try !containerFilter(#"{"volume":["/data"]}"#).matches(running))
        #expect(try containerFilter(#"{"isolation":["default"]}"#).matches(running))
        // Different keys AND; one key's values OR.
        #expect(try !containerFilter(#"{"name":["one"],"status":["exited"]}"#).matches(running))
        #expect(try containerFilter(#"{"name":["one","two"]}"#).matches(exited))
    }

    @Test func refusesWhatItCannotRead() {
        #expect(refusal { _ = try containerFilter(#"{"bogus":["1"]}"#) } == "invalid filter 'bogus'")
        #expect(refusal { _ = try containerFilter(#"{"status":["sleeping"]}"#) } == "invalid filter 'status=sleeping'")
        for json in [#"{"exited":["x"]}"#, #"{"health":["meh"]}"#, #"{"is-task":["maybe"]}"#, #"{"isolation":["hyperv"]}"#,
                     #"{"publish":["abc"]}"#, #"{"label":[""]}"#] {
            #expect(refusal { _ = try containerFilter(json) } != nil, "\(json)")
        }
        #expect(refusal { _ = try containerFilter(#"{"before":["ghost"]}"#) } == "No such container: ghost")
    }
}

@Suite struct ResourceFilterTests {
    @Test func networks() throws {
        func matches(_ json: String, name: String = "red", builtin: Bool = false, inUse: Bool = false) throws -> Bool {
            try NetworkFilter(try Filters.parse(json)).matches(name: name, id: "0123abcd", driver: "bridge", scope: "local",
                                                               labels: ["team": "red"], builtin: builtin, inUse: inUse)
        }
        #expect(try matches(#"{"label":["team=red"]}"#))
        #expect(try !matches(#"{"label":["team=blue"]}"#))
        #expect(try matches(#"{"dangling":["true"]}"#))
        #expect(try !matches(#"{"dangling":["true"]}"#, inUse: true))
        #expect(try !matches(#"{"dangling":["1"]}"#, name: "bridge", builtin: true))
        #expect(try matches(#"{"type":["builtin"]}"#, builtin: true))
        #expect(try !matches(#"{"driver":["overlay"]}"#))
        #expect(try !matches(#"{"scope":["swarm"]}"#))
        #expect(try matches(#"{"id":["0123"]}"#))
        #expect(refusal { _ = try NetworkFilter(try Filters.parse(#"{"type":["odd"]}"#)) } != nil)
        #expect(refusal { _ = try NetworkFilter(try Filters.parse(#"{"bogus":["1"]}"#)) } == "invalid filter 'bogus'")
    }

    @Test func images() throws {
        func filter(_ json: String, legacy: String? = nil) throws -> ImageFilter {
            try ImageFilter(try Filters.parse(json), legacyReference: legacy, now: Date(timeIntervalSince1970: 1_000)) {
                (reference: String) throws(BerthError) -> Date in
                guard reference == "base" else { throw .notFound("No such image: \(reference)") }
                return Date(timeIntervalSince1970: 500)
            }
        }
        let created = Date(timeIntervalSince1970: 600)
        #expect(try filter(#"{"reference":["busybox"]}"#).matches(repoTags: ["busybox:latest"], created: created, labels: [:]))
        #expect(try filter(#"{"reference":["busy*:lat*"]}"#).matches(repoTags: ["busybox:latest"], created: created, labels: [:]))
        #expect(try !filter(#"{"reference":["alpine"]}"#).matches(repoTags: ["busybox:latest"], created: created, labels: [:]))
        #expect(try !filter("", legacy: "alpine").matches(repoTags: ["busybox:latest"], created: created, labels: [:]))
        #expect(try filter(#"{"dangling":["true"]}"#).matches(repoTags: [], created: created, labels: [:]))
        #expect(try !filter(#"{"dangling":["true"]}"#).matches(repoTags: ["a:b"], created: created, labels: [:]))
        #expect(try filter(#"{"since":["base"]}"#).matches(repoTags: ["a:b"], created: created, labels: [:]))
        #expect(try !filter(#"{"before":["base"]}"#).matches(repoTags: ["a:b"], created: created, labels: [:]))
        #expect(try !filter(#"{"until":["500s"]}"#).matches(repoTags: ["a:b"], created: created, labels: [:]))
        #expect(try !filter(#"{"label":["x"]}"#).matches(repoTags: ["a:b"], created: created, labels: [:]))
        #expect(refusal { _ = try filter(#"{"before":["ghost"]}"#) } == "No such image: ghost")
        #expect(refusal { _ = try filter(#"{"bogus":["1"]}"#) } == "invalid filter 'bogus'")
    }

    @Test func pruneLabelsAndUntil() throws {
        let now = Date(timeIntervalSince1970: 1_000)
        let old = Date(timeIntervalSince1970: 100)
        let keep = try PruneFilter(try Filters.parse(#"{"label!":["keep"]}"#), now: now)
        #expect(keep.matches(created: old, labels: [:]))
        #expect(!keep.matches(created: old, labels: ["keep": "yes"]))
        let tmp = try PruneFilter(try Filters.parse(#"{"label":["tier=tmp"],"until":["10m"]}"#), now: now)
        #expect(tmp.matches(created: old, labels: ["tier": "tmp"]))
        #expect(!tmp.matches(created: old, labels: ["tier": "db"]))
        #expect(!tmp.matches(created: Date(timeIntervalSince1970: 900), labels: ["tier": "tmp"]))
        #expect(refusal { _ = try PruneFilter(try Filters.parse(#"{"dangling":["true"]}"#)) } == "invalid filter 'dangling'")
        #expect(refusal { _ = try PruneFilter(try Filters.parse(#"{"until":["1h","2h"]}"#)) } != nil)
    }
}

import DockerAPI
import Foundation
import Testing

@Suite struct StrictFieldsTests {
    private func value(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    private func createRefusal(_ text: String) throws -> UnsupportedField? {
        RequestFields.unsupported(in: try value(text), rule: CreateRequestRules.create, options: CreateRequestRules.options)
    }

    @Test(arguments: [
        ClientBodies.dockerCLIRun, ClientBodies.dockerCLIRunWithOptions, ClientBodies.composeService,
        ClientBodies.composeServiceWithOptions, ClientBodies.dockerPyRun, ClientBodies.dockerPyCreate,
        ClientBodies.dockerPyRunWithOptions,
    ])
    func acceptsWhatClientsSendForHonouredOptions(body: String) throws {
        #expect(try createRefusal(body) == nil)
    }

    @Test(arguments: [ClientBodies.dockerCLIExec, ClientBodies.dockerCLIExecDetached, ClientBodies.dockerPyExec])
    func acceptsClientExecBodies(body: String) throws {
        #expect(RequestFields.unsupported(in: try value(body), rule: CreateRequestRules.exec) == nil)
    }

    /// The docker CLI's plain body with one HostConfig key changed.
    private func cliBody(hostConfig key: String, _ json: String) throws -> String {
        guard case .object(var body) = try value(ClientBodies.dockerCLIRun),
              case .object(var host)? = body["HostConfig"] else { throw CocoaError(.coderInvalidValue) }
        host[key] = try value(json)
        body["HostConfig"] = .object(host)
        return String(decoding: try JSONEncoder().encode(Encoded(.object(body))), as: UTF8.self)
    }

    @Test func refusesAMemoryLimitNamingTheOption() throws {
        let refusal = try createRefusal(try cliBody(hostConfig: "Memory", "1073741824"))
        #expect(refusal == UnsupportedField(path: "HostConfig.Memory", option: "--memory"))
        #expect(refusal?.description == "berth does not support HostConfig.Memory (--memory)")
    }

    @Test func refusesCapabilitiesPrivilegedAndLogOptions() throws {
        #expect(try createRefusal(try cliBody(hostConfig: "CapAdd", #"["NET_ADMIN"]"#))?.path == "HostConfig.CapAdd")
        #expect(try createRefusal(try cliBody(hostConfig: "Privileged", "true"))?.option == "--privileged")
        #expect(try createRefusal(try cliBody(hostConfig: "LogConfig", #"{"Type":"syslog","Config":{}}"#))?.path
            == "HostConfig.LogConfig.Type")
        #expect(try createRefusal(try cliBody(hostConfig: "LogConfig", #"{"Type":"json-file","Config":{"max-size":"1m"}}"#))?.path
            == "HostConfig.LogConfig.Config")
    }

    @Test func acceptsTheDefaultsBerthHasAnyway() throws {
        #expect(try createRefusal(try cliBody(hostConfig: "IpcMode", #""private""#)) == nil)
        #expect(try createRefusal(try cliBody(hostConfig: "LogConfig", #"{"Type":"json-file","Config":{}}"#)) == nil)
        #expect(try createRefusal(try cliBody(hostConfig: "Isolation", #""default""#)) == nil)
        #expect(try createRefusal(try cliBody(hostConfig: "IpcMode", #""shareable""#))?.option == "--ipc")
        #expect(try createRefusal(try cliBody(hostConfig: "MemorySwappiness", "60"))?.path == "HostConfig.MemorySwappiness")
    }

    @Test func refusesUnknownKeysAtEveryLevel() throws {
        #expect(try createRefusal(#"{"Image":"busybox","Healthcheck":{"Test":["CMD","true"]}}"#)?.option == "--health-cmd")
        #expect(try createRefusal(#"{"Image":"busybox","Healthcheck":{"Test":["NONE"]}}"#) == nil)
        #expect(try createRefusal(#"{"Image":"busybox","Healthcheck":{"Test":["NONE"],"Retries":3}}"#)?.option == "--health-retries")
        #expect(try createRefusal(#"{"Image":"busybox","NetworkDisabled":true}"#)?.path == "NetworkDisabled")
        #expect(try createRefusal(#"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"n":{"GwPriority":5}}}}"#)?.path
            == "NetworkingConfig.EndpointsConfig.n.GwPriority")
        let volume = #"{"Image":"b","HostConfig":{"Mounts":[{"Type":"volume","Target":"/x","VolumeOptions":{"NoCopy":true}}]}}"#
        #expect(try createRefusal(volume) == UnsupportedField(path: "HostConfig.Mounts.0.VolumeOptions", option: "--mount type=volume", value: "NoCopy"))
    }

    @Test func refusesPrivilegedExec() throws {
        let refusal = RequestFields.unsupported(in: try value(#"{"Cmd":["id"],"Privileged":true}"#), rule: CreateRequestRules.exec,
                                                options: CreateRequestRules.options)
        #expect(refusal?.description == "berth does not support Privileged (--privileged)")
    }

    @Test func zeroIsGoZero() throws {
        #expect(try value(#"{"Type":"","Config":{}}"#).isZero)
        #expect(try value("0").isZero && value("false").isZero && value("null").isZero && value("[]").isZero)
        #expect(try !value("[0,0]").isZero)
        #expect(try !value("-1").isZero)
        #expect(try value("true") == .bool(true))
        #expect(try value("1") == .number(1))
    }

    /// JSONValue back to JSON, to build variants of a captured body.
    private struct Encoded: Encodable {
        let value: JSONValue
        init(_ value: JSONValue) { self.value = value }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch value {
            case .null: try container.encodeNil()
            case .bool(let flag): try container.encode(flag)
            case .number(let number): try container.encode(number)
            case .string(let text): try container.encode(text)
            case .array(let values): try container.encode(values.map(Encoded.init))
            case .object(let members): try container.encode(members.mapValues(Encoded.init))
            }
        }
    }
}

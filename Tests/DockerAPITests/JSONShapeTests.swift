import DockerAPI
import Foundation
import Testing

@Suite struct DockerJSONTests {
    @Test func decodesDockerCLICreateBody() throws {
        // Trimmed from what `docker create --name web --network mynet --ip 10.1.0.5 busybox sleep 9` sends.
        let body = """
            {"Hostname":"","Env":["A=1"],"Cmd":["sleep","9"],"Image":"busybox","Entrypoint":null,
             "HostConfig":{"NetworkMode":"mynet","Links":["db:database"],"Dns":["10.0.0.53"],"AutoRemove":false,
                           "PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}},
             "NetworkingConfig":{"EndpointsConfig":{"mynet":{"IPAMConfig":{"IPv4Address":"10.1.0.5"},"Aliases":["web1"]}}}}
            """
        let request = try JSONDecoder().decode(ContainerCreateRequest.self, from: Data(body.utf8))
        #expect(request.config.Cmd == ["sleep", "9"])
        #expect(request.config.Entrypoint == nil)
        #expect(request.config.Image == "busybox")
        #expect(request.HostConfig?.NetworkMode == "mynet")
        #expect(request.HostConfig?.Links == ["db:database"])
        #expect(request.HostConfig?.PortBindings?["80/tcp"]?.first?.HostPort == "8080")
        #expect(request.NetworkingConfig?.EndpointsConfig?["mynet"]?.IPAMConfig?.IPv4Address == "10.1.0.5")
        #expect(request.NetworkingConfig?.EndpointsConfig?["mynet"]?.Aliases == ["web1"])
    }

    @Test func entrypointAsString() throws {
        let request = try JSONDecoder().decode(ContainerCreateRequest.self, from: Data(#"{"Image":"x","Entrypoint":"sh"}"#.utf8))
        #expect(request.config.Entrypoint == ["sh"])
    }

    @Test func createRoundTripKeepsTopLevelConfig() throws {
        let request = ContainerCreateRequest(config: ContainerConfig(Cmd: ["true"], Image: "busybox"),
                                             HostConfig: HostConfig(NetworkMode: "host"))
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? [String: Any])
        #expect(json["Image"] as? String == "busybox")
        #expect((json["HostConfig"] as? [String: Any])?["NetworkMode"] as? String == "host")
    }

    @Test func networkResourceHasDockerKeys() throws {
        let resource = NetworkResource(
            Name: "bridge", Id: "abc", Created: "2026-01-01T00:00:00Z", Scope: "local", Driver: "bridge", EnableIPv6: false,
            IPAM: IPAMSettings(Driver: "default", Config: [.init(Subnet: "172.17.0.0/16", Gateway: "172.17.0.1")], Options: nil),
            Internal: false, Attachable: false,
            Containers: ["c1": NetworkContainer(Name: "a", EndpointID: "e", MacAddress: "02:42:ac:11:00:02", IPv4Address: "172.17.0.2/16", IPv6Address: "")],
            Options: [:], Labels: [:])
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(resource)) as? [String: Any])
        for key in ["Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal", "Attachable", "Ingress",
                    "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        let ipam = try #require(json["IPAM"] as? [String: Any])
        let config = try #require((ipam["Config"] as? [[String: Any]])?.first)
        #expect(config["Subnet"] as? String == "172.17.0.0/16")
        #expect(config["IPRange"] == nil)
    }

    @Test func versionAdvertisesAPI() throws {
        let version = VersionResponse(version: "0.1.0", kernel: "6.1", arch: "amd64", commit: "x")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(version)) as? [String: Any])
        #expect(json["ApiVersion"] as? String == APIVersion.current)
        #expect(json["MinAPIVersion"] as? String == "1.24")
        #expect((json["Platform"] as? [String: Any])?["Name"] as? String == "berth")
    }
}

import Foundation
import Testing
@testable import ContainerRuntime

@Suite struct OCISpecTests {
    private func launch(_ network: ContainerLaunch.Network, shareHostUTS: Bool = false) -> ContainerLaunch {
        ContainerLaunch(id: "c0ffee", rootfs: "/var/lib/berth/containers/c0ffee/rootfs",
                        args: ["sh", "-c", "echo hi"], env: ["FOO=bar", "PATH=/custom/bin", "EMPTY="],
                        hostname: "web", workingDir: "/srv", network: network, shareHostUTS: shareHostUTS,
                        filesDir: "/var/lib/berth/containers/c0ffee/", cgroupPrefix: "berth-d1/")
    }

    /// The JSON as a dictionary, so assertions check the wire format rather than the Swift model.
    private func json(_ spec: OCISpec) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: try spec.jsonData())
        return try #require(object as? [String: Any])
    }

    @Test func bridgeModeJoinsNamespacePath() throws {
        let spec = OCIBundle.spec(for: launch(.path("/run/berth/netns/c0ffee")))
        let root = try json(spec)
        #expect(root["ociVersion"] as? String == "1.0.2")
        #expect(root["hostname"] as? String == "web")
        let linux = try #require(root["linux"] as? [String: Any])
        let namespaces = try #require(linux["namespaces"] as? [[String: String]])
        #expect(Set(namespaces.compactMap { $0["type"] }) == ["pid", "ipc", "mount", "uts", "network"])
        #expect(namespaces.first { $0["type"] == "network" }?["path"] == "/run/berth/netns/c0ffee")
        #expect(namespaces.filter { $0["type"] != "network" }.allSatisfy { $0["path"] == nil })
        #expect(linux["cgroupsPath"] as? String == "berth-d1/c0ffee")
        let sysctl = try #require(linux["sysctl"] as? [String: String])
        #expect(sysctl["net.ipv4.ip_unprivileged_port_start"] == "0")
        #expect((linux["maskedPaths"] as? [String])?.contains("/proc/kcore") == true)
        #expect((linux["readonlyPaths"] as? [String])?.contains("/proc/sys") == true)

        let process = try #require(root["process"] as? [String: Any])
        #expect(process["args"] as? [String] == ["sh", "-c", "echo hi"])
        #expect(process["env"] as? [String] == ["PATH=/custom/bin", "HOSTNAME=web", "FOO=bar", "EMPTY="])
        #expect(process["cwd"] as? String == "/srv")
        #expect(process["noNewPrivileges"] as? Bool == false)
        #expect(process["terminal"] as? Bool == false)
        let user = try #require(process["user"] as? [String: Any])
        #expect(user["uid"] as? Int == 0 && user["gid"] as? Int == 0)
        let caps = try #require(process["capabilities"] as? [String: [String]])
        #expect(caps["bounding"]?.contains("CAP_NET_RAW") == true)
        #expect(caps["bounding"]?.contains("CAP_SYS_ADMIN") == false)
        #expect(caps["bounding"]?.count == 14)
        let rlimits = try #require(process["rlimits"] as? [[String: Any]])
        #expect(rlimits.first?["type"] as? String == "RLIMIT_NOFILE")

        let rootEntry = try #require(root["root"] as? [String: Any])
        #expect(rootEntry["path"] as? String == "/var/lib/berth/containers/c0ffee/rootfs")
        #expect(rootEntry["readonly"] as? Bool == false)

        let mounts = try #require(root["mounts"] as? [[String: Any]])
        let byDestination = Dictionary(uniqueKeysWithValues: mounts.map { ($0["destination"] as? String ?? "", $0) })
        for required in ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"] {
            #expect(byDestination[required] != nil, "mount \(required)")
        }
        #expect((byDestination["/sys"]?["options"] as? [String])?.contains("ro") == true)
        for (destination, file) in [("/etc/hosts", "hosts"), ("/etc/hostname", "hostname"), ("/etc/resolv.conf", "resolv.conf")] {
            let mount = try #require(byDestination[destination])
            #expect(mount["type"] as? String == "bind")
            #expect(mount["source"] as? String == "/var/lib/berth/containers/c0ffee/\(file)")
            #expect((mount["options"] as? [String])?.contains("rbind") == true)
            #expect((mount["options"] as? [String])?.contains("rw") == true)
        }
    }

    @Test func hostModeHasNoNetworkNamespace() throws {
        let spec = OCIBundle.spec(for: launch(.host))
        #expect(!spec.linux.namespaces.contains { $0.type == "network" })
        #expect(spec.linux.namespaces.contains { $0.type == "uts" })
        #expect(spec.linux.sysctl == nil) // net.* sysctls must never touch the host
        #expect(spec.hostname == "web")
        #expect(try json(spec)["linux"].flatMap { ($0 as? [String: Any])?["sysctl"] } == nil)
    }

    @Test func hostModeSharingHostUTSOmitsHostname() throws {
        let spec = OCIBundle.spec(for: launch(.host, shareHostUTS: true))
        #expect(Set(spec.linux.namespaces.map(\.type)) == ["pid", "ipc", "mount"])
        #expect(spec.hostname == nil)
        #expect(try json(spec)["hostname"] == nil)
        #expect(spec.process.env.contains("HOSTNAME=web"))
    }

    @Test func readonlyFilesAndDefaults() {
        var value = launch(.host)
        value.readonlyFiles = true
        value.workingDir = ""
        value.env = []
        value.cgroupPrefix = "/berth-abs"
        let spec = OCIBundle.spec(for: value)
        #expect(spec.process.cwd == "/")
        #expect(spec.process.env == [OCIBundle.defaultPath, "HOSTNAME=web"])
        #expect(spec.linux.cgroupsPath == "/berth-abs/c0ffee")
        #expect(spec.mounts.filter { $0.type == "bind" }.allSatisfy { $0.options?.contains("ro") == true })
    }

    @Test func writeProducesConfigJSON() throws {
        let dir = try TemporaryDirectory("bundle")
        defer { dir.cleanup() }
        let spec = try OCIBundle.create(at: "\(dir.path)/bundle", launch: launch(.path("/proc/1/ns/net")))
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir.path)/bundle/config.json"))
        #expect(try JSONDecoder().decode(OCISpec.self, from: data) == spec)
        #expect(!String(decoding: data, as: UTF8.self).contains("\\/")) // paths written plainly
    }
}

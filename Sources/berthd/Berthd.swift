import ArgumentParser
import BerthCore
import Daemon
import Firewall
import Foundation
import Logging

@main
struct Berthd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berthd", abstract: "The berth daemon: container networking behind a Docker-compatible API.")

    @Option(help: "Persistent state: store, images, containers")
    var root = "/var/lib/berth"
    @Option(name: .customLong("exec-root"), help: "Runtime state: namespace files, runc state")
    var execRoot = "/run/berth"
    @Option(name: [.customShort("H"), .long], help: "API socket (unix:///path)")
    var host = "unix:///run/berth.sock"
    @Option(help: "Name of the default bridge device")
    var bridge = "berth0"
    @Option(help: "Default bridge's gateway address and prefix, e.g. 172.17.0.1/16 (default: first free pool)")
    var bip: String?
    @Option(name: .customLong("resolv-conf"), help: "resolv.conf whose nameservers containers get")
    var resolvConf = "/etc/resolv.conf"
    @Option(help: "MTU of bridges and container interfaces")
    var mtu = 1500
    @Option(name: .customLong("spare-namespaces"), help: "Network namespaces kept ready for container starts")
    var spareNamespaces = 4
    @Option(help: "OCI runtime binary")
    var runtime = "runc"
    @Option(name: [.customShort("l"), .customLong("log-level")], help: "debug, info, warning, error")
    var logLevel = "info"
    @Option(name: .customLong("ip-masq"), help: "Masquerade containers' outbound traffic (--ip-masq=false turns it off)")
    var ipMasquerade = true
    @Option(name: .customLong("published-ports"),
            help: "Who lets traffic from outside reach published ports: nat (Docker's way, whatever the host firewall's input policy) or host-firewall (the host firewall's input rules decide, as for any port of the host)")
    var publishedPorts = "nat"
    @Option(name: .customLong("anti-spoofing"),
            help: "Containers on the default bridge send only from their own MAC and addresses (--anti-spoofing=false turns it off)")
    var antiSpoofing = true
    @Flag(name: .customLong("cleanup"), help: "Remove berth's nftables rules when the daemon exits")
    var cleanup = false
    @Flag(help: "Start although the state database lost records: put back the copies kept beside it and adopt the running containers they name; leave the rest untouched")
    var recover = false
    @Flag(name: .customLong("remove-unrecorded"),
          help: "Start although the state database lost records, trusting it as it is: remove the containers it does not record")
    var removeUnrecorded = false
    @Option(name: .customLong("cluster-store"), help: "etcd for overlay networks: etcd://HOST:2379[,HOST:2379...]")
    var clusterStore: String?
    @Option(name: .customLong("cluster-advertise"), help: "This node's underlay address (IP or interface) the others reach it at")
    var clusterAdvertise: String?
    @Option(name: .customLong("cluster-store-opt"),
            help: "kv.cacertfile=PATH, kv.certfile=PATH, kv.keyfile=PATH (TLS to etcd), discovery.ttl=SECONDS (node lease)")
    var clusterStoreOptions: [String] = []
    @Option(name: .customLong("api-idle-timeout"),
            help: "Seconds an API connection may stay silent while a request (or its body) is awaited")
    var apiIdleTimeout = 60
    @Option(name: .customLong("api-max-connections"), help: "Open API connections at most")
    var apiMaxConnections = 4096
    @Option(name: .customLong("init-path"), help: "The init binary --init runs containers under (default: Debian's tini)")
    var initPath = "/usr/bin/tini-static"
    @Option(name: .customLong("host-gateway-ip"), help: "Address --add-host NAME:host-gateway resolves to (default: the default bridge's gateway)")
    var hostGatewayIP: String?

    func validate() throws {
        guard host.hasPrefix("unix://") || host.hasPrefix("/") else {
            throw ValidationError("-H must be a unix socket (unix:///path)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level \(logLevel)") }
        guard (68...65535).contains(mtu) else { throw ValidationError("--mtu must be between 68 and 65535") }
        guard (0...64).contains(spareNamespaces) else { throw ValidationError("--spare-namespaces must be between 0 and 64") }
        guard (1...86400).contains(apiIdleTimeout) else { throw ValidationError("--api-idle-timeout must be between 1 and 86400 seconds") }
        guard (1...1_000_000).contains(apiMaxConnections) else {
            throw ValidationError("--api-max-connections must be between 1 and 1000000")
        }
        if clusterStore != nil, clusterAdvertise == nil {
            throw ValidationError("--cluster-store needs --cluster-advertise (this node's address)")
        }
        if clusterStore == nil, clusterAdvertise != nil || !clusterStoreOptions.isEmpty {
            throw ValidationError("--cluster-advertise and --cluster-store-opt need --cluster-store")
        }
        _ = try clusterConfiguration()
        if let hostGatewayIP, IPAddress(hostGatewayIP) == nil {
            throw ValidationError("--host-gateway-ip must be an IP address")
        }
        guard initPath.hasPrefix("/") else { throw ValidationError("--init-path must be an absolute path") }
        if recover, removeUnrecorded { throw ValidationError("--recover and --remove-unrecorded exclude each other") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "berthd")
        let socket = host.hasPrefix("unix://") ? String(host.dropFirst("unix://".count)) : host
        // Checked here rather than in validate(): a refusal is one line, not a usage text.
        let bridgeIP: IPv4Network?
        do {
            bridgeIP = try bip.map { text throws(BerthError) in try DaemonConfiguration.bridgeIP(text) }
        } catch {
            logger.critical("berthd cannot start: \(error.message)")
            throw ExitCode(1)
        }
        var configuration = DaemonConfiguration(
            root: root, execRoot: execRoot, socketPath: socket, bridgeName: bridge, bridgeIP: bridgeIP,
            resolvConfPath: resolvConf, runcPath: runtime, mtu: mtu, spareNamespaces: spareNamespaces)
        configuration.ipMasquerade = ipMasquerade
        configuration.antiSpoofing = antiSpoofing
        configuration.cleanupOnExit = cleanup
        guard let publishedPortsMode = PublishedPortsMode(rawValue: publishedPorts) else {
            logger.critical("berthd cannot start: invalid --published-ports \"\(publishedPorts)\": nat or host-firewall")
            throw ExitCode(1)
        }
        configuration.publishedPorts = publishedPortsMode
        configuration.stateRecovery = recover ? .recover : removeUnrecorded ? .removeUnrecorded : .refuse
        configuration.apiIdleTimeoutSeconds = apiIdleTimeout
        configuration.apiMaxConnections = apiMaxConnections
        configuration.initPath = initPath
        configuration.hostGatewayIP = hostGatewayIP.flatMap { IPAddress($0) }
        configuration.cluster = try clusterConfiguration()
        do {
            try await BerthDaemon(configuration: configuration, logger: logger).run()
        } catch {
            logger.critical("berthd cannot start: \(error)")
            throw ExitCode(1)
        }
    }

    func clusterConfiguration() throws -> ClusterConfiguration? {
        guard let clusterStore, let clusterAdvertise else { return nil }
        var cluster = ClusterConfiguration(store: clusterStore, advertise: clusterAdvertise)
        do {
            for option in clusterStoreOptions { try cluster.apply(option: option) }
        } catch {
            throw ValidationError(error.message)
        }
        return cluster
    }
}

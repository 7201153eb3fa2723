import ArgumentParser
import DockerAPI
import Foundation

struct NetworkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", abstract: "Manage networks",
        subcommands: [NetworkCreate.self, NetworkList.self, NetworkInspect.self, NetworkRemove.self, NetworkPrune.self,
                      NetworkConnect.self, NetworkDisconnect.self])
}

struct NetworkCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a network")
    @Option(name: [.short, .long], help: "Driver (bridge)") var driver: String = "bridge"
    @Option(name: .long, help: "Subnet in CIDR form (IPv4, and IPv6 with --ipv6)") var subnet: [String] = []
    @Option(name: .long, help: "Gateway for the subnet") var gateway: [String] = []
    @Option(name: .customLong("ip-range"), help: "Allocate container addresses from this range") var ipRange: [String] = []
    @Option(name: .customLong("aux-address"), help: "Reserved address NAME=IP") var auxAddress: [String] = []
    @Flag(name: .long, help: "No access to outside networks") var `internal` = false
    @Flag(name: .long, help: "Enable IPv6") var ipv6 = false
    @Flag(name: .long, help: "Attachable (overlay)") var attachable = false
    @Option(name: [.short, .customLong("opt")], help: "Driver option KEY=VALUE") var opt: [String] = []
    @Option(name: .long, help: "Label KEY=VALUE") var label: [String] = []
    @Argument var name: String

    func run() async throws {
        var pools: [IPAMSettings.Pool] = []
        for subnet in subnet {
            let isV6 = subnet.contains(":")
            let gateway = gateway.first { $0.contains(":") == isV6 }
            let range = ipRange.first { $0.contains(":") == isV6 }
            var aux: [String: String]?
            if !isV6, !auxAddress.isEmpty { aux = try keyValues(auxAddress, what: "aux-address") }
            pools.append(.init(Subnet: subnet, IPRange: range, Gateway: gateway, AuxiliaryAddresses: aux))
        }
        if subnet.isEmpty && (!gateway.isEmpty || !ipRange.isEmpty || !auxAddress.isEmpty) {
            throw CLIFailure(message: "--gateway, --ip-range and --aux-address need a --subnet")
        }
        let request = NetworkCreateRequest(
            Name: name, Driver: driver, Internal: `internal`, Attachable: attachable,
            IPAM: IPAMSettings(Driver: "default", Config: pools, Options: nil), EnableIPv6: ipv6,
            Options: try keyValues(opt, what: "option"), Labels: try keyValues(label, what: "label"))
        let api = try APIClient()
        print(try await api.json(IDResponse.self, "POST", "/networks/create", body: request).Id)
    }
}

struct NetworkList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks")
    @Flag(name: [.short, .long]) var quiet = false
    @Flag(name: .customLong("no-trunc")) var noTrunc = false
    @Option(name: [.short, .long], help: "Filter: name=, id=, driver=, label=, scope=, dangling=, type=custom|builtin") var filter: [String] = []
    @Option(name: .long) var format: String?

    func run() async throws {
        let query = try FilterOption.query(filter)
        let api = try APIClient()
        let networks = try await api.json([NetworkResource].self, "GET", "/networks", query: query)
            .sorted { $0.Name < $1.Name }
        if quiet {
            for network in networks { print(noTrunc ? network.Id : String(network.Id.prefix(12))) }
            return
        }
        let rows = networks.map { network -> [String: String] in
            ["ID": noTrunc ? network.Id : String(network.Id.prefix(12)), "Name": network.Name, "Driver": network.Driver,
             "Scope": network.Scope, "IPv6": String(network.EnableIPv6), "Internal": String(network.Internal)]
        }
        if let format {
            for row in rows { print(renderTemplate(format, fields: row)) }
            return
        }
        printTable(headers: ["NETWORK ID", "NAME", "DRIVER", "SCOPE"], keys: ["ID", "Name", "Driver", "Scope"], rows: rows)
    }
}

struct NetworkInspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show networks' details as JSON")
    @Option(name: [.short, .long]) var format: String?
    @Argument var networks: [String]

    func run() async throws {
        let api = try APIClient()
        var objects: [Any] = []
        for network in networks { objects.append(try await api.rawJSON("/networks/\(segment(network))")) }
        try printInspected(objects, format: format)
    }
}

struct NetworkRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove networks", aliases: ["remove"])
    @Argument var networks: [String]

    func run() async throws {
        let api = try APIClient()
        var failure: CLIFailure?
        for network in networks {
            do {
                try await api.send("DELETE", "/networks/\(segment(network))")
                print(network)
            } catch let error as CLIFailure {
                failure = error
            }
        }
        if let failure { throw failure }
    }
}

struct NetworkPrune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused networks")
    @Flag(name: [.short, .long], help: "Do not ask (berth never asks)") var force = false
    @Option(name: .long, help: "Only networks matching: until=, label=, label!=") var filter: [String] = []

    func run() async throws {
        let api = try APIClient()
        let result = try await api.json(NetworksPruneResponse.self, "POST", "/networks/prune", query: try FilterOption.query(filter))
        if !result.NetworksDeleted.isEmpty {
            print("Deleted Networks:")
            for name in result.NetworksDeleted { print(name) }
        }
    }
}

struct NetworkConnect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect", abstract: "Connect a container to a network")
    @Option(name: .long) var ip: String?
    @Option(name: .long) var ip6: String?
    @Option(name: .long) var alias: [String] = []
    @Option(name: .long) var link: [String] = []
    @Argument var network: String
    @Argument var container: String

    func run() async throws {
        let settings = EndpointSettings(
            IPAMConfig: (ip != nil || ip6 != nil) ? .init(IPv4Address: ip, IPv6Address: ip6) : nil,
            Links: link.isEmpty ? nil : link, Aliases: alias.isEmpty ? nil : alias)
        let api = try APIClient()
        try await api.send("POST", "/networks/\(segment(network))/connect",
                           body: NetworkConnectRequest(Container: container, EndpointConfig: settings))
    }
}

struct NetworkDisconnect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disconnect", abstract: "Disconnect a container from a network")
    @Flag(name: [.short, .long]) var force = false
    @Argument var network: String
    @Argument var container: String

    func run() async throws {
        let api = try APIClient()
        try await api.send("POST", "/networks/\(segment(network))/disconnect",
                           body: NetworkDisconnectRequest(Container: container, Force: force))
    }
}

import ArgumentParser
import DockerAPI
import Foundation
import HTTPUnix

struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a container")
    @OptionGroup var options: ContainerOptions

    func run() async throws {
        let api = try APIClient()
        let created = try await createContainer(api, options, autoRemove: options.rm)
        print(created.Id)
    }
}

func createContainer(_ api: APIClient, _ options: ContainerOptions, autoRemove: Bool) async throws -> IDResponse {
    var query: [(String, String)] = []
    if let name = options.name { query.append(("name", name)) }
    return try await api.json(IDResponse.self, "POST", "/containers/create", query: query,
                              body: try options.request(autoRemove: autoRemove))
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create and start a container")
    @Flag(name: [.short, .long], help: "Run in the background and print the container ID")
    var detach = false
    @OptionGroup var options: ContainerOptions

    func run() async throws {
        let api = try APIClient()
        // In the foreground the CLI removes the container itself after reading its output.
        let created = try await createContainer(api, options, autoRemove: detach && options.rm)
        if detach {
            try await api.send("POST", "/containers/\(created.Id)/start")
            print(created.Id)
            return
        }
        try await runAttached(api, created.Id, stdin: options.interactive)
        // The output ended with the container's processes: this finds it exited, or exiting.
        let result = try await api.json(WaitResponse.self, "POST", "/containers/\(created.Id)/wait")
        if options.rm {
            try await api.send("DELETE", "/containers/\(created.Id)", query: [("force", "1")])
        }
        if result.StatusCode != 0 { throw ExitWithCode(code: result.StatusCode) }
    }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start stopped containers")
    @Argument var containers: [String]

    func run() async throws {
        let api = try APIClient()
        for container in containers {
            try await api.send("POST", "/containers/\(segment(container))/start")
            print(container)
        }
    }
}

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop running containers")
    @Option(name: [.short, .customLong("time")], help: "Seconds to wait before killing")
    var time: Int?
    @Argument var containers: [String]

    func run() async throws {
        let api = try APIClient()
        for container in containers {
            try await api.send("POST", "/containers/\(segment(container))/stop", query: time.map { [("t", String($0))] } ?? [])
            print(container)
        }
    }
}

struct Kill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal to running containers")
    @Option(name: [.short, .long]) var signal: String = "KILL"
    @Argument var containers: [String]

    func run() async throws {
        let api = try APIClient()
        for container in containers {
            try await api.send("POST", "/containers/\(segment(container))/kill", query: [("signal", signal)])
            print(container)
        }
    }
}

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove containers")
    @Flag(name: [.short, .long], help: "Kill a running container first")
    var force = false
    @Argument var containers: [String]

    func run() async throws {
        let api = try APIClient()
        for container in containers {
            try await api.send("DELETE", "/containers/\(segment(container))", query: force ? [("force", "1")] : [])
            print(container)
        }
    }
}

struct ListContainers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers")
    @Flag(name: [.short, .long], help: "Show all containers, not only running ones")
    var all = false
    @Flag(name: [.short, .long], help: "Only IDs")
    var quiet = false
    @Flag(name: .customLong("no-trunc")) var noTrunc = false
    @Option(name: .long, help: "Go-template style format, e.g. {{.Names}}")
    var format: String?
    @Option(name: [.short, .long], help: "Filter KEY=VALUE, as Docker's (label=, name=, status=, network=...)")
    var filter: [String] = []

    func run() async throws {
        let api = try APIClient()
        let query = (all ? [("all", "1")] : []) + (try FilterOption.query(filter))
        let list = try await api.json([ContainerSummary].self, "GET", "/containers/json", query: query)
        if quiet {
            for container in list { print(noTrunc ? container.Id : String(container.Id.prefix(12))) }
            return
        }
        let rows = list.map { container -> [String: String] in
            [
                "ID": noTrunc ? container.Id : String(container.Id.prefix(12)),
                "Image": container.Image,
                "Command": "\"" + (noTrunc ? container.Command : truncate(container.Command, 20)) + "\"",
                "CreatedAt": String(container.Created),
                "RunningFor": ago(container.Created),
                "Status": container.Status,
                "State": container.State,
                "Ports": container.Ports.map(portText).joined(separator: ", "),
                "Names": container.Names.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }.joined(separator: ","),
                "Networks": container.NetworkSettings.Networks.keys.sorted().joined(separator: ","),
            ]
        }
        if let format {
            for row in rows { print(renderTemplate(format, fields: row)) }
            return
        }
        printTable(headers: ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
                   keys: ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"], rows: rows)
    }
}

func portText(_ port: PortSummary) -> String {
    if let publicPort = port.PublicPort {
        return "\(hostAddress(port.IP ?? "0.0.0.0")):\(publicPort)->\(port.PrivatePort)/\(port.Type)"
    }
    return "\(port.PrivatePort)/\(port.Type)"
}

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show containers' details as JSON")
    @Option(name: [.short, .long], help: "Go-template style format, e.g. {{.NetworkSettings.IPAddress}}")
    var format: String?
    @Argument var containers: [String]

    func run() async throws {
        let api = try APIClient()
        var objects: [Any] = []
        for container in containers {
            objects.append(try await api.rawJSON("/containers/\(segment(container))/json"))
        }
        try printInspected(objects, format: format)
    }
}

struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a command in a running container")
    @Option(name: [.short, .customLong("env")]) var env: [String] = []
    @Flag(name: [.short, .long], help: "Detached: start the command and return")
    var detach = false
    @Argument var container: String
    @Argument(parsing: .captureForPassthrough) var command: [String] = []

    func run() async throws {
        guard !command.isEmpty else { throw CLIFailure(message: "exec needs a command") }
        let api = try APIClient()
        let created = try await api.json(IDResponse.self, "POST", "/containers/\(segment(container))/exec",
                                         body: ExecCreateRequest(Cmd: command, Env: env.isEmpty ? nil : env))
        let start = Array(try APIClient.encoder.encode(ExecStartRequest(Detach: detach, Tty: false)))
        if detach {
            _ = try await api.call("POST", "/exec/\(created.Id)/start", body: start)
            return
        }
        do {
            try await api.client.hijack("POST", "/v\(APIVersion.current)/exec/\(created.Id)/start", body: start,
                                        headers: [("Content-Type", "application/json")]) { connection in
                try await copyMultiplexed(connection.output)
            }
        } catch let error as HTTPClientError {
            if case .requestFailed(let response) = error {
                throw CLIFailure(message: response.errorMessage ?? "exec failed with status \(response.status)")
            }
            throw CLIFailure(message: "cannot connect to the berth daemon at \(Daemon.host): \(error)")
        }
        let inspect = try await api.json(ExecInspect.self, "GET", "/exec/\(created.Id)/json")
        // The daemon records the code before it ends the stream: none means the stream was cut.
        guard let code = inspect.ExitCode, !inspect.Running else {
            throw CLIFailure(message: "exec \(created.Id.prefix(12)): output ended before the command finished")
        }
        if code != 0 { throw ExitWithCode(code: code) }
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a container's output")
    @Flag(name: [.short, .long], help: "Follow the output until the container stops")
    var follow = false
    @Option(name: .customLong("tail"), help: "Only the last N lines (\"all\": every line)")
    var tail: String?
    @Flag(name: [.short, .customLong("timestamps")], help: "Show each line's time")
    var timestamps = false
    @Argument var container: String

    func run() async throws {
        var extra: [(String, String)] = []
        if let tail { extra.append(("tail", tail)) }
        if timestamps { extra.append(("timestamps", "1")) }
        try await streamLogs(try APIClient(), container, follow: follow, extra: extra)
    }
}

/// Prints the container's output stream (Docker's multiplexed frames) as it arrives.
func streamLogs(_ api: APIClient, _ container: String, follow: Bool, extra: [(String, String)] = []) async throws {
    var query = [("stdout", "1"), ("stderr", "1")] + extra
    if follow { query.append(("follow", "1")) }
    do {
        try await api.client.stream("GET", "/v\(APIVersion.current)/containers/\(segment(container))/logs", query: query) { response in
            guard response.status == 200 else {
                var bytes: [UInt8] = []
                for try await chunk in response.body { bytes += chunk }
                // Not Docker's error shape: the status says what went wrong.
                let message = (try? APIClient.decoder.decode(ErrorResponse.self, from: Data(bytes)))?.message ?? "status \(response.status)"
                throw CLIFailure(message: message)
            }
            try await copyMultiplexed(response.body)
        }
    } catch let error as HTTPClientError {
        throw CLIFailure(message: "cannot connect to the berth daemon at \(Daemon.host): \(error)")
    }
}

/// Splits Docker's stream frames onto stdout and stderr.
func copyMultiplexed<S: AsyncSequence>(_ chunks: S) async throws where S.Element == [UInt8] {
    var demuxer = RawStreamDemultiplexer()
    for try await chunk in chunks {
        for frame in try demuxer.feed(chunk) {
            let handle = frame.kind == .stderr ? FileHandle.standardError : FileHandle.standardOutput
            handle.write(Data(frame.payload))
        }
    }
}

struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Wait for containers to stop and print their exit codes")
    @Argument var containers: [String]

    func run() async throws {
        let api = try APIClient()
        for container in containers {
            print(try await api.json(WaitResponse.self, "POST", "/containers/\(segment(container))/wait").StatusCode)
        }
    }
}

struct Port: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a container's published ports")
    @Argument var container: String
    @Argument(help: "Only this port: PORT[/PROTO]") var privatePort: String?

    func run() async throws {
        let api = try APIClient()
        let inspect = try await api.json(ContainerInspect.self, "GET", "/containers/\(segment(container))/json")
        let wanted = privatePort.map { $0.contains("/") ? $0 : $0 + "/tcp" }
        var printed = false
        for (port, bindings) in inspect.NetworkSettings.Ports.sorted(by: { $0.key < $1.key }) where wanted == nil || wanted == port {
            for binding in bindings ?? [] {
                let address = hostAddress(binding.HostIp ?? "0.0.0.0")
                print(wanted == nil ? "\(port) -> \(address):\(binding.HostPort ?? "")" : "\(address):\(binding.HostPort ?? "")")
                printed = true
            }
        }
        if let privatePort, !printed {
            throw CLIFailure(message: "no public port '\(privatePort)' published for \(container)")
        }
    }
}

/// IPv6 host addresses are bracketed before a port, as Docker prints them.
func hostAddress(_ ip: String) -> String { ip.contains(":") ? "[\(ip)]" : ip }

/// Attaches before the start, as docker does, so no output is lost; sends this process's
/// stdin when asked (its end closes the container's); returns when the output ends.
func runAttached(_ api: APIClient, _ id: String, stdin: Bool) async throws {
    var query = [("stream", "1"), ("stdout", "1"), ("stderr", "1")]
    if stdin { query.append(("stdin", "1")) }
    do {
        try await api.client.hijack("POST", "/v\(APIVersion.current)/containers/\(id)/attach", query: query) { connection in
            try await api.send("POST", "/containers/\(id)/start")
            let input = Task {
                guard stdin else { return }
                for await chunk in standardInputChunks() { try await connection.write(chunk) }
                try await connection.closeWrite()
            }
            defer { input.cancel() }
            try await copyMultiplexed(connection.output)
        }
    } catch let error as HTTPClientError {
        throw CLIFailure(message: "cannot attach to container \(id.prefix(12)): \(error)")
    }
}

/// This process's stdin, read on a thread of its own (reads block).
func standardInputChunks() -> AsyncStream<[UInt8]> {
    let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
    Thread {
        while true {
            let data = FileHandle.standardInput.availableData
            if data.isEmpty { break }
            continuation.yield(Array(data))
        }
        continuation.finish()
    }.start()
    return stream
}

import BerthCore
import DockerAPI
import Foundation
import HTTPUnix

extension APIRoutes {
    func addContainerRoutes(_ router: inout Router) {
        let controller = self.controller
        router.add(.GET, "/containers/json") { request in
            await respond {
                let all = request.query.bool("all") ?? false
                let limit = try request.integer("limit")
                let filters = try request.filters()
                let list = try await controller.containerSummaries(all: all, limit: limit, filters: filters)
                return .json(.ok, request.query.bool("size") == true ? try await controller.withSizes(list) : list)
            }
        }
        router.add(.POST, "/containers/prune") { request in
            await respond {
                let filters = try request.filters()
                return .json(.ok, ContainersPruneResponse(ContainersDeleted: try await controller.pruneContainers(filters: filters)))
            }
        }
        router.add(.POST, "/containers/create") { request in
            await respond {
                try request.refuseUnsupportedFields(CreateRequestRules.create)
                let body = try request.json(ContainerCreateRequest.self)
                let record = try await controller.createContainer(body, name: request.query["name"])
                return .json(.created, IDResponse(Id: record.id, Warnings: []))
            }
        }
        router.add(.GET, "/containers/{id}/json") { request in
            await respond { .json(.ok, try await controller.inspect(request.param("id"))) }
        }
        router.add(.POST, "/containers/{id}/start") { request in
            await respond {
                let record = try await controller.container(request.param("id"))
                if record.isPaused { throw BerthError.conflict("cannot start a paused container, try unpause instead") }
                if record.isRunning { return .empty(.notModified) }
                try await controller.startContainer(record.id)
                return .empty(.noContent)
            }
        }
        router.add(.POST, "/containers/{id}/stop") { request in
            await respond {
                let timeout = request.query.int("t") ?? request.query.int("timeout")
                let signal = try request.query["signal"].flatMap { $0.isEmpty ? nil : try Signals.parse($0) }
                let stopped = try await controller.stopContainer(request.param("id"), timeout: timeout, signal: signal)
                return .empty(stopped ? .noContent : .notModified)
            }
        }
        router.add(.POST, "/containers/{id}/restart") { request in
            await respond {
                let id = try await controller.container(request.param("id")).id
                _ = try await controller.stopContainer(id, timeout: request.query.int("t"))
                try await controller.startContainer(id)
                await controller.emit(containerID: id, "restart")
                return .empty(.noContent)
            }
        }
        router.add(.POST, "/containers/{id}/kill") { request in
            await respond {
                let signal = try Signals.parse(request.query["signal"] ?? "KILL")
                try await controller.killContainer(request.param("id"), signal: signal)
                return .empty(.noContent)
            }
        }
        addLifecycleRoutes(&router)
        router.add(.POST, "/containers/{id}/wait") { request in
            await respond {
                let condition = try WaitCondition(query: request.query["condition"])
                let latch = try await controller.registerWait(request.param("id"), condition: condition)
                // The head goes out at once: the docker CLI starts the container only then.
                return .stream(.ok, contentType: "application/json") { writer in
                    try await writer.writeJSON(WaitResponse(StatusCode: await latch.value()))
                }
            }
        }
        router.add(.DELETE, "/containers/{id}") { request in
            await respond {
                if request.query.bool("link") == true {
                    try await controller.removeLink(request.param("id"))
                    return .empty(.noContent)
                }
                try await controller.removeContainer(request.param("id"), force: request.query.bool("force") ?? false)
                return .empty(.noContent)
            }
        }
        // `rm --link /web/db`: a link's name has two parts, which only this pattern matches.
        router.add(.DELETE, "/containers/{link:.*}") { request in
            await respond {
                guard request.query.bool("link") == true else {
                    throw BerthError.notFound("No such container: \(request.param("link"))")
                }
                try await controller.removeLink(request.param("link"))
                return .empty(.noContent)
            }
        }
    }
}

enum Signals {
    static let names: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "KILL": SIGKILL, "USR1": SIGUSR1, "USR2": SIGUSR2,
        "TERM": SIGTERM, "STOP": SIGSTOP, "CONT": SIGCONT,
        // The rest of Linux's, as Docker names them (`--stop-signal SIGWINCH` is httpd's).
        "ABRT": SIGABRT, "IOT": SIGABRT, "ALRM": SIGALRM, "BUS": SIGBUS, "CHLD": SIGCHLD, "CLD": SIGCHLD,
        "FPE": SIGFPE, "ILL": SIGILL, "IO": SIGIO, "POLL": SIGIO, "PIPE": SIGPIPE, "PROF": SIGPROF,
        "PWR": SIGPWR, "SEGV": SIGSEGV, "STKFLT": SIGSTKFLT, "SYS": SIGSYS, "TRAP": SIGTRAP, "TSTP": SIGTSTP,
        "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "VTALRM": SIGVTALRM, "WINCH": SIGWINCH,
        "XCPU": SIGXCPU, "XFSZ": SIGXFSZ,
    ]

    static func parse(_ text: String) throws(BerthError) -> Int32 {
        if let number = Int32(text), number > 0, number < 65 { return number }
        let name = text.uppercased().hasPrefix("SIG") ? String(text.uppercased().dropFirst(3)) : text.uppercased()
        guard let signal = names[name] else { throw .invalid("invalid signal: \(text)") }
        return signal
    }
}

extension Controller {
    func isRunning(_ id: String) -> Bool { containers[id]?.isRunning ?? false }

    func summary(_ record: ContainerRecord) -> ContainerSummary {
        ContainerSummary(
            Id: record.id, Names: ["/" + record.name], Image: record.imageReference, ImageID: record.imageID,
            Command: record.command.joined(separator: " "), Created: Int64(Self.date(record.created)?.timeIntervalSince1970 ?? 0),
            Ports: portSummaries(record), Labels: record.config.Labels ?? [:], State: record.status.rawValue, Status: statusText(record),
            NetworkMode: record.networkMode.description, Networks: endpointSettings(record),
            Mounts: Self.mountPoints(record.hostConfig))
    }

    private func statusText(_ record: ContainerRecord) -> String {
        let now = Date()
        switch record.status {
        case .running, .paused:
            let started = Self.date(record.startedAt) ?? now
            return "Up " + Self.human(now.timeIntervalSince(started)) + (record.isPaused ? " (Paused)" : "")
        case .restarting:
            let finished = Self.date(record.finishedAt) ?? now
            return "Restarting (\(record.exitCode)) \(Self.human(now.timeIntervalSince(finished))) ago"
        case .exited:
            let finished = Self.date(record.finishedAt) ?? now
            return "Exited (\(record.exitCode)) \(Self.human(now.timeIntervalSince(finished))) ago"
        case .created: return "Created"
        case .removing: return "Removal In Progress"
        }
    }

    /// nil for a time berth did not write (an unparsable one shows as "now").
    static func date(_ text: String) -> Date? {
        try? timeFormat.parse(text)
    }

    static func human(_ interval: TimeInterval) -> String { HumanDuration.text(interval: interval) }

    func endpointSettings(_ record: ContainerRecord) -> [String: EndpointSettings] {
        var result: [String: EndpointSettings] = [:]
        switch record.networkMode {
        case .host, .none:
            let name = record.networkMode.description
            var settings = EndpointSettings()
            settings.NetworkID = networks.values.first { $0.name == name }?.id ?? ""
            settings.EndpointID = ""
            settings.Gateway = ""
            settings.IPAddress = ""
            settings.IPPrefixLen = 0
            settings.MacAddress = ""
            result[name] = settings
        case .container:
            break
        case .networks:
            for attachment in record.attachments {
                guard let network = networks[attachment.networkID] else { continue }
                var settings = EndpointSettings(Links: attachment.links.isEmpty ? nil : attachment.links,
                                                Aliases: attachment.aliases.isEmpty ? nil : attachment.aliases)
                if let sent = attachment.ipamConfig {
                    settings.IPAMConfig = sent
                } else if attachment.requestedIPv4 != nil || attachment.requestedIPv6 != nil {
                    settings.IPAMConfig = .init(IPv4Address: attachment.requestedIPv4?.description, IPv6Address: attachment.requestedIPv6?.description)
                }
                settings.DriverOpts = attachment.driverOpts
                settings.NetworkID = network.id
                let endpoint = record.endpoints.first { $0.networkID == network.id }
                settings.EndpointID = endpoint?.id ?? ""
                settings.Gateway = endpoint?.gateway?.description ?? ""
                settings.IPAddress = endpoint?.ipv4?.description ?? ""
                settings.IPPrefixLen = endpoint?.prefixLength ?? 0
                settings.IPv6Gateway = endpoint?.gateway6?.description ?? ""
                settings.GlobalIPv6Address = endpoint?.ipv6?.description ?? ""
                settings.GlobalIPv6PrefixLen = endpoint?.prefixLength6 ?? 0
                // Before a start, the MAC asked for (Docker shows it in a created container too).
                settings.MacAddress = endpoint?.mac.description ?? attachment.requestedMAC?.description ?? ""
                // Docker's order (name, aliases, short ID, without repeats), once the endpoint exists.
                if !network.predefined, endpoint != nil {
                    var names: [String] = []
                    for name in [record.name] + attachment.aliases + [record.shortID] where !names.contains(name) { names.append(name) }
                    settings.DNSNames = names
                }
                result[network.name] = settings
            }
        }
        return result
    }

    func inspect(_ reference: String) throws -> ContainerInspect {
        let record = try container(reference)
        let directory = configuration.containerDir(record.id)
        let networks = endpointSettings(record)
        let primary = record.attachments.first.flatMap { self.networks[$0.networkID]?.name }.flatMap { networks[$0] }
        var state = ContainerState(
            Status: record.status.rawValue, Running: record.isRunning, Pid: record.pid, ExitCode: record.exitCode,
            Error: record.error, StartedAt: record.startedAt, FinishedAt: record.finishedAt)
        // Docker counts a paused or restarting container as running.
        state.Running = record.isRunning || record.restartPending
        state.Paused = record.isPaused
        state.Restarting = record.restartPending
        var config = record.config
        if (config.Hostname ?? "").isEmpty { config.Hostname = record.shortID }
        let ports = portMap(record)
        var hostConfig = record.hostConfig
        if (hostConfig.LogConfig?.Type ?? "").isEmpty { hostConfig.LogConfig = LogDriver.jsonFile }
        var inspected = ContainerInspect(
            Id: record.id, Created: record.created, Path: record.command.first ?? "", Args: Array(record.command.dropFirst()),
            State: state, Image: record.imageID, ResolvConfPath: directory + "/resolv.conf",
            HostnamePath: directory + "/hostname", HostsPath: directory + "/hosts",
            LogPath: directory + "/" + record.id + JSONLog.fileSuffix, Name: "/" + record.name, HostConfig: hostConfig,
            Config: config,
            NetworkSettings: NetworkSettings(SandboxID: record.sandboxPath.map { _ in record.id } ?? "",
                                             SandboxKey: record.sandboxPath ?? "", Ports: ports, primary: primary,
                                             Networks: networks),
            Mounts: Self.mountPoints(record.hostConfig))
        inspected.RestartCount = record.restartCount
        inspected.HostConfig.PidMode = record.hostConfig.PidMode ?? ""
        // As Docker since API 1.44: no policy, or an empty name, reads "no".
        let policy = RestartPolicy(record.hostConfig)
        inspected.HostConfig.RestartPolicy = .init(Name: policy.kind.rawValue, MaximumRetryCount: policy.maximumRetryCount)
        return inspected
    }

    func info() -> InfoResponse {
        // As Docker counts: paused ones apart from running, restarting ones as running.
        let paused = containers.values.filter(\.isPaused).count
        let running = containers.values.filter { ($0.isRunning || $0.restartPending) && !$0.isPaused }.count
        var info = InfoResponse(
            id: daemonID, name: ProcessInfo.processInfo.hostName, containers: containers.count, running: running,
            stopped: containers.count - running - paused, images: runtime.listImages().count, rootDir: configuration.root,
            version: configuration.version, kernel: SystemFacts.kernel, arch: SystemFacts.architecture,
            cpus: ProcessInfo.processInfo.activeProcessorCount, memory: Int64(ProcessInfo.processInfo.physicalMemory))
        info.ContainersPaused = paused
        return info
    }
}

import BerthCore
import ContainerRuntime
import DockerAPI
import Foundation

/// The create options beyond networking: mounts, user, init, stop signal, extra hosts,
/// domain name. Checked at create so a bad one changes nothing; applied at start.
extension Controller {
    /// Every bind and tmpfs mount the container asked for, in the order Docker applies
    /// them (-v, --tmpfs, --mount); a destination used twice is refused.
    static func mounts(_ hostConfig: HostConfig) throws(BerthError) -> [ContainerMount] {
        var result: [ContainerMount] = []
        for spec in hostConfig.Binds ?? [] { result.append(try ContainerMount.bind(spec)) }
        for destination in (hostConfig.Tmpfs ?? [:]).keys.sorted() {
            result.append(try ContainerMount.tmpfs(destination: destination, options: hostConfig.Tmpfs?[destination] ?? ""))
        }
        for request in hostConfig.Mounts ?? [] { result.append(try mount(request)) }
        var seen: Set<String> = []
        for mount in result {
            guard seen.insert(mount.destination).inserted else { throw .invalid("Duplicate mount point: \(mount.destination)") }
        }
        return result
    }

    /// One `--mount`: bind or tmpfs; berth has no volumes.
    static func mount(_ request: MountRequest) throws(BerthError) -> ContainerMount {
        let kind = request.`Type` ?? ""
        let target = request.Target ?? ""
        try ContainerMount.checkDestination(target, spec: "--mount type=\(kind),target=\(target)")
        switch kind {
        case "bind":
            guard request.TmpfsOptions == nil else { throw .invalid("invalid mount config for type \"bind\": field TmpfsOptions must not be specified") }
            let source = request.Source ?? ""
            guard source.hasPrefix("/") else {
                throw .invalid("invalid mount config for type \"bind\": invalid mount path: '\(source)' mount path must be absolute")
            }
            let propagation = request.BindOptions?.Propagation ?? ""
            guard propagation.isEmpty || ContainerMount.propagations.contains(propagation) else {
                throw .invalid("invalid mount config for type \"bind\": invalid propagation mode: \(propagation)")
            }
            if !propagation.isEmpty { try ContainerMount.checkPropagation(propagation, spec: "--mount bind-propagation=\(propagation)") }
            return ContainerMount(kind: .bind, source: ContainerMount.normalized(source),
                                  destination: ContainerMount.normalized(target), readOnly: request.ReadOnly ?? false,
                                  propagation: propagation.isEmpty ? "rprivate" : propagation)
        case "tmpfs":
            guard (request.Source ?? "").isEmpty else { throw .invalid("invalid mount config for type \"tmpfs\": field Source must not be specified") }
            guard request.BindOptions == nil else { throw .invalid("invalid mount config for type \"tmpfs\": field BindOptions must not be specified") }
            var options: [String] = []
            if let size = request.TmpfsOptions?.SizeBytes {
                guard size >= 0 else { throw .invalid("invalid mount config for type \"tmpfs\": invalid tmpfs size \(size)") }
                if size > 0 { options.append("size=\(size)") }
            }
            if let mode = request.TmpfsOptions?.Mode, mode != 0 {
                guard mode <= 0o7777 else { throw .invalid("invalid mount config for type \"tmpfs\": invalid mode \(mode)") }
                options.append("mode=" + String(mode, radix: 8))
            }
            if request.ReadOnly == true { options.append("ro") }
            var mount = try ContainerMount.tmpfs(destination: target, options: options.joined(separator: ","))
            mount.mode = ""
            return mount
        case "volume":
            throw .invalid("berth has no volumes: --mount type=volume (target \(target)); use type=bind with a host directory")
        default:
            throw .invalid("berth does not support mounts of type \"\(kind)\" (--mount type=\(kind))")
        }
    }

    /// Checks every option of this file against the request; nothing is changed.
    func validateContainerOptions(_ config: ContainerConfig, _ hostConfig: HostConfig, mode: NetworkMode) throws(BerthError) {
        let mounts = try Self.mounts(hostConfig)
        // Docker checks --mount's source at create; -v's is made at start.
        for mount in mounts where mount.kind == .bind && !mount.createsMissingSource {
            guard FileManager.default.fileExists(atPath: mount.source) else {
                throw .invalid("invalid mount config for type \"bind\": bind source path does not exist: \(mount.source)")
            }
        }
        let destinations = Set(mounts.map(\.destination))
        for volume in (config.Volumes ?? [:]).keys.sorted() where !destinations.contains(ContainerMount.normalized(volume)) {
            throw .invalid("berth has no volumes: anonymous volume \(volume); bind a host directory with -v /host/path:\(volume)")
        }
        if let user = config.User, !user.isEmpty { try UserLookup.validate(user) }
        if let signal = config.StopSignal, !signal.isEmpty { _ = try Signals.parse(signal) }
        if let timeout = config.StopTimeout, timeout < -1 { throw .invalid("invalid stop timeout \(timeout)") }
        if let directory = config.WorkingDir, !directory.isEmpty, !directory.hasPrefix("/") {
            throw .invalid("the working directory '\(directory)' is invalid, it needs to be an absolute path")
        }
        for entry in hostConfig.ExtraHosts ?? [] { _ = try extraHost(entry) }
        if case .container = mode, !(hostConfig.ExtraHosts ?? []).isEmpty {
            // The other container's /etc/hosts is the one this container sees.
            throw .invalid("conflicting options: custom host-to-IP mapping (--add-host) and the network mode container")
        }
        if let domain = config.Domainname, !domain.isEmpty {
            guard mode != .host else { throw .invalid("conflicting options: --domainname and --network=host (the host's UTS namespace)") }
            guard domain.utf8.count <= 255, domain.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }) else {
                throw .invalid("invalid domainname \"\(domain)\"")
            }
        }
        if hostConfig.Init == true { _ = try initBinary() }
    }

    /// The init binary `--init` binds in, present and executable.
    func initBinary() throws(BerthError) -> String {
        let path = configuration.initPath
        guard access(path, X_OK) == 0 else {
            throw .invalid("berth cannot honour --init: the init binary \(path) is missing or not executable (install tini or start berthd with --init-path)")
        }
        return path
    }

    /// `--add-host name:address` as (address, name); `host-gateway` is the address
    /// `--host-gateway-ip` gave berthd, else the default bridge's gateway.
    func extraHost(_ entry: String) throws(BerthError) -> (String, String) {
        // Docker takes "name:address" and "name=address"; the name never holds either.
        guard let separator = entry.firstIndex(where: { $0 == ":" || $0 == "=" }) else {
            throw .invalid("bad format for add-host: \"\(entry)\"")
        }
        let name = String(entry[..<separator])
        let address = String(entry[entry.index(after: separator)...])
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace }) else { throw .invalid("bad format for add-host: \"\(entry)\"") }
        if address == "host-gateway" {
            if let configured = configuration.hostGatewayIP { return (configured.description, name) }
            guard let gateway = networks.values.first(where: { $0.name == "bridge" })?.gateway else {
                throw .invalid("host-gateway (--add-host \(entry)): berthd has no default bridge and no --host-gateway-ip")
            }
            return (gateway.description, name)
        }
        let trimmed = address.hasPrefix("[") && address.hasSuffix("]") ? String(address.dropFirst().dropLast()) : address
        guard IPAddress(trimmed) != nil else { throw .invalid("invalid IP address in add-host: \"\(address)\"") }
        return (trimmed, name)
    }

    /// `Mounts` as inspect and ps show them: binds and `--mount` tmpfs (Docker lists
    /// `--tmpfs` in HostConfig only).
    static func mountPoints(_ hostConfig: HostConfig) -> [MountPoint] {
        let tmpfsFlags = Set((hostConfig.Tmpfs ?? [:]).keys.map(ContainerMount.normalized))
        let mounts = (try? Self.mounts(hostConfig)) ?? []
        return mounts.filter { $0.kind == .bind || !tmpfsFlags.contains($0.destination) }.map { mount in
            MountPoint(Type: mount.kind.rawValue, Source: mount.source, Destination: mount.destination, Mode: mount.mode,
                       RW: !mount.readOnly, Propagation: mount.propagation)
        }
    }
}

import BerthCore
import Glibc
import Namespaces
import Netlink

/// The host side of the worker thread: a netlink session in the daemon's namespace and
/// the bridge indexes seen so far.
final class HostLinks {
    let netlink: RouteNetlink
    var bridgeIndexes: [String: Int32] = [:]
    /// Namespaces made ahead of time (loopback up, a netlink socket open inside), so a
    /// container start does not wait for the kernel to build one.
    var spares: [SpareNamespace] = []
    var spareDirectory: String?
    var spareTarget = 0

    init() throws {
        netlink = try RouteNetlink()
    }

    func bridgeIndex(_ name: String) throws -> Int32 {
        if let index = bridgeIndexes[name] { return index }
        guard let link = try netlink.link(named: name) else {
            throw BerthError(.internal, "bridge \(name) does not exist")
        }
        bridgeIndexes[name] = link.index
        return link.index
    }
}

/// A namespace ready for a container.
struct SpareNamespace {
    let file: NamespaceFile
    let netlink: RouteNetlink
}

/// Sets up and tears down bridges and container sandboxes. All of its kernel work runs
/// on one dedicated thread (the only place berth switches network namespace), each
/// operation as a single job so starting a container costs one thread hop.
///
/// Requires CAP_NET_ADMIN and CAP_SYS_ADMIN.
public final class NetworkWorker: Sendable {
    let thread: NamespaceThread<HostLinks>
    private let teardowns: TeardownThread

    public init() throws(BerthError) {
        thread = try NamespaceThread(name: "network worker") { try HostLinks() }
        teardowns = try TeardownThread()
    }

    // MARK: bridges

    /// Makes the bridge exist with the gateway address, up. Idempotent: an existing
    /// bridge is kept and completed.
    public func ensureBridge(_ spec: BridgeSpec) async throws {
        try await thread.run { scope in
            let host = scope.context
            let index: Int32
            if let link = try host.netlink.link(named: spec.name) {
                guard link.kind == "bridge" else {
                    throw BerthError.conflict("\(spec.name) exists and is not a bridge")
                }
                index = link.index
                if link.mac != spec.mac { try host.netlink.setMAC(index: index, mac: spec.mac) }
            } else {
                index = try host.netlink.createBridge(name: spec.name, mtu: spec.mtu, mac: spec.mac)
            }
            host.bridgeIndexes[spec.name] = index
            let existing = try host.netlink.addresses(index: index)
            var requests: [NetlinkRequest] = []
            if !existing.contains(where: { $0.address == .v4(spec.gateway.address) && $0.prefixLength == spec.gateway.prefixLength }) {
                // A stale address (the subnet changed) goes first.
                for stale in existing where stale.address.isIPv4 {
                    if case .v4(let address) = stale.address, let network = IPv4Network(address: address, prefixLength: stale.prefixLength) {
                        requests.append(.deleteAddress(network, index: index))
                    }
                }
                requests.append(.addAddress(spec.gateway, index: index))
            }
            if let gateway6 = spec.gateway6,
               !existing.contains(where: { $0.address == .v6(gateway6.address) }) {
                requests.append(.addAddress(gateway6, index: index, noDAD: true))
            }
            requests.append(.setUp(index: index))
            try host.netlink.perform(requests)
        }
    }

    public func removeBridge(name: String) async throws {
        try await thread.run { scope in
            scope.context.bridgeIndexes[name] = nil
            guard let link = try scope.context.netlink.link(named: name) else { return }
            try scope.context.netlink.deleteLink(index: link.index)
        }
    }

    /// IPv4 prefixes in use on the host (routes and interface addresses, default routes
    /// excluded), so a new network's subnet can avoid them.
    public func hostNetworks(excludingBridges bridges: [String]) async throws -> [IPv4Network] {
        try await thread.run { scope in
            let netlink = scope.context.netlink
            let links = try netlink.links()
            let skipped = Set(links.filter { bridges.contains($0.name) }.map(\.index))
            var result: [IPv4Network] = []
            for route in try netlink.routes(family: .ipv4) where route.prefixLength > 0 {
                if let output = route.outputIndex, skipped.contains(output) { continue }
                if case .v4(let address)? = route.destination,
                   let network = IPv4Network(address: address, prefixLength: route.prefixLength) {
                    result.append(network)
                }
            }
            for address in try netlink.addresses(family: .ipv4) where !skipped.contains(address.index) {
                if case .v4(let value) = address.address,
                   let network = IPv4Network(address: value, prefixLength: address.prefixLength) {
                    result.append(network)
                }
            }
            return result
        }
    }

    // MARK: sandboxes

    /// Gives the container a namespace (a spare one when ready, else a new one bound at
    /// `spec.path`) with loopback up and every interface configured, and returns the
    /// namespace file's path. On failure nothing is left: veths are deleted and the
    /// namespace file removed.
    public func createSandbox(_ spec: SandboxSpec) async throws -> String {
        let path = try await thread.run { scope in
            let host = scope.context
            if !host.spares.isEmpty {
                let spare = host.spares.removeFirst()
                defer { spare.file.close() }
                do {
                    try Self.configure(spec, host: host, inner: spare.netlink, namespaceFD: spare.file.fd)
                } catch {
                    NamespaceFile.remove(path: spare.file.path)
                    throw error
                }
                return spare.file.path
            }
            let (namespace, inner) = try scope.createNamespace(at: spec.path) { namespace in
                do {
                    // Opened while the thread is inside the new namespace: it stays bound to it.
                    let inner = try RouteNetlink()
                    try inner.perform(.setUp(index: 1))  // lo is always index 1 in a new namespace
                    return (namespace, inner)
                } catch {
                    namespace.close()
                    throw error
                }
            }
            // Configured from the home namespace, as a spare is: the host end's sysctls
            // (see `plug`) are only reachable from there.
            defer { namespace.close() }
            do {
                try Self.configure(spec, host: host, inner: inner, namespaceFD: namespace.fd)
            } catch {
                NamespaceFile.remove(path: namespace.path)
                throw error
            }
            return spec.path
        }
        refillSpares()
        return path
    }

    private static func configure(_ spec: SandboxSpec, host: HostLinks, inner: RouteNetlink, namespaceFD: Int32) throws {
        var created: [String] = []
        do {
            for interface in spec.interfaces {
                try plug(interface, host: host, inner: inner, namespaceFD: namespaceFD)
                created.append(interface.hostName)
            }
        } catch {
            for name in created { try? host.netlink.deleteLink(named: name) }
            throw error
        }
    }

    /// Keeps `count` spare namespaces under `directory` from now on. Files there that are
    /// not in use must have been removed first (reconciliation does).
    public func keepSpareNamespaces(_ count: Int, in directory: String) {
        _ = Task {
            try? await thread.run { scope in
                scope.context.spareDirectory = directory
                scope.context.spareTarget = count
            }
            refillSpares()
        }
    }

    /// Tops the spares up, one namespace per job so container starts queued meanwhile
    /// are not held up behind a whole refill.
    private func refillSpares() {
        _ = Task {
            while true {
                let more = try? await thread.run { scope -> Bool in
                    let host = scope.context
                    guard let directory = host.spareDirectory, host.spares.count < host.spareTarget else { return false }
                    var generator = SystemRandomNumberGenerator()
                    let path = directory + "/spare-" + String(generator.next() as UInt64, radix: 16)
                    let spare = try scope.createNamespace(at: path) { file in
                        let netlink = try RouteNetlink()
                        try netlink.perform(.setUp(index: 1))
                        return SpareNamespace(file: file, netlink: netlink)
                    }
                    host.spares.append(spare)
                    return host.spares.count < host.spareTarget
                }
                if more != true { return }
            }
        }
    }

    /// Removes the spare namespaces (daemon shutdown).
    public func dropSpareNamespaces() async {
        _ = try? await thread.run { scope in
            scope.context.spareTarget = 0
            for spare in scope.context.spares {
                spare.file.close()
                NamespaceFile.remove(path: spare.file.path)
            }
            scope.context.spares = []
        }
    }

    /// Adds one interface to a running container's namespace (network connect).
    public func attach(sandboxPath: String, interface: InterfaceSpec) async throws {
        try await thread.run { scope in
            let namespace = try NamespaceFile.open(path: sandboxPath)
            defer { namespace.close() }
            let inner = try scope.inside(namespace: namespace.fd) { try RouteNetlink() }
            try Self.plug(interface, host: scope.context, inner: inner, namespaceFD: namespace.fd)
        }
    }

    /// The veth pair for one interface in a single exchange, then its addresses, link
    /// state and routes inside the container in one batch.
    private static func plug(_ interface: InterfaceSpec, host: HostLinks, inner: RouteNetlink, namespaceFD: Int32) throws {
        let bridge = try host.bridgeIndex(interface.bridgeName)
        var created: (host: Int32, peer: Int32)?
        do {
            created = try createVeth(interface, bridge: bridge, host: host, namespaceFD: namespaceFD)
        } catch let error as NetlinkError where error.errno == ENODEV || error.errno == EINVAL {
            // The bridge may have been deleted behind our back: look it up again once.
            host.bridgeIndexes[interface.bridgeName] = nil
            created = try createVeth(interface, bridge: try host.bridgeIndex(interface.bridgeName), host: host, namespaceFD: namespaceFD)
        }
        do {
            // A bridge port needs no IPv6 of its own. Without this, the kernel gives the
            // host end a link-local address, routes and DAD when it gets carrier, and that
            // work grows with the number of ports. Set before the peer comes up.
            try disableIPv6(interface.hostName, host: host, index: created?.host)
            let index: Int32
            if let created {
                index = created.peer
            } else if let link = try inner.link(named: interface.containerName) {
                index = link.index
            } else {
                throw BerthError(.kernel, "\(interface.containerName) did not appear in the container's namespace")
            }
            var requests: [NetlinkRequest] = []
            if interface.address6 == nil {
                // No IPv6 on this network: no link-local address or DAD inside either.
                requests.append(.setIPv6AddressGeneration(index: index, mode: .none))
            }
            requests.append(.addAddress(interface.address, index: index))
            if let address6 = interface.address6 {
                requests.append(.addAddress(address6, index: index, noDAD: true))
            }
            requests.append(.setUp(index: index))
            if let gateway = interface.gateway {
                requests.append(.addRoute(destination: nil, gateway: gateway, outputIndex: index, metric: nil))
            }
            if let gateway6 = interface.gateway6 {
                requests.append(.addRoute(destination: Optional<IPv6Network>.none, gateway: gateway6, outputIndex: index, metric: nil))
            }
            try inner.perform(requests)
        } catch {
            try? host.netlink.deleteLink(named: interface.hostName)
            throw error
        }
    }

    /// Turns IPv6 off on a host end (a bridge port has no use for it: the bridge takes its
    /// frames before any IP stack of the port sees them) through its sysctl, before the
    /// link has carrier, so it gets no link-local address and no multicast route. Every
    /// port with IPv6 kept one such route, and adding one, or any IPv6 change on a port
    /// without carrier, walks all of them: 0.6 ms of CPU per start at 1,000 containers.
    /// Setting only the address generation (RTM_SETLINK or its sysctl) still leaves the
    /// route. The thread must be in the home namespace: /proc/sys/net is the calling
    /// thread's namespace's.
    private static func disableIPv6(_ name: String, host: HostLinks, index: Int32?) throws {
        let fd = open("/proc/sys/net/ipv6/conf/\(name)/disable_ipv6", O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            let written = write(fd, "1", 1)
            close(fd)
            if written == 1 { return }
        } else if errno == ENOENT, access("/proc/sys/net/ipv6", F_OK) != 0 {
            return  // no IPv6 on this host
        }
        // Anything else: at least no link-local address, the netlink way.
        let hostIndex: Int32
        if let index {
            hostIndex = index
        } else if let link = try host.netlink.link(named: name) {
            hostIndex = link.index
        } else {
            throw BerthError(.kernel, "\(name) did not appear")
        }
        try host.netlink.perform(.setIPv6AddressGeneration(index: hostIndex, mode: .none))
    }

    /// Creates the pair and returns both ends' indexes, which the kernel's echo of the new
    /// host end carries (its index and IFLA_LINK), saving lookups; nil without an echo.
    private static func createVeth(_ interface: InterfaceSpec, bridge: Int32, host: HostLinks, namespaceFD: Int32) throws -> (host: Int32, peer: Int32)? {
        let replies = try host.netlink.exchange(.createVeth(
            name: interface.hostName, peerName: interface.containerName, peerNamespaceFD: namespaceFD,
            masterIndex: bridge, up: true, mtu: interface.mtu, peerMAC: interface.mac, group: interface.portGroup))
        guard let echoed = replies.first(where: { $0.type == RTM.newLink }), let info = try? LinkInfo(message: echoed),
              let peer = info.linkIndex else {
            return nil
        }
        return (info.index, peer)
    }

    /// Removes one interface (network disconnect): deleting the host end removes the pair.
    public func detach(hostInterface: String) async throws {
        try await thread.run { scope in
            do {
                try scope.context.netlink.deleteLink(named: hostInterface)
            } catch let error as NetlinkError where error.errno == ENODEV {
                return
            }
        }
    }

    /// Takes a stopped container's network down without waiting for the kernel: the
    /// namespace file is unbound now (so its path can be reused at once), and `done` runs
    /// on another thread once the host ends of `hostInterfaces` are gone, which is when
    /// their addresses may be reused. Best effort, like `destroySandbox`.
    public func releaseSandbox(path: String, hostInterfaces: [String], done: @escaping @Sendable () -> Void) {
        NamespaceFile.remove(path: path)
        teardowns.submit(TeardownThread.Job(links: hostInterfaces, namespaceDropped: true, done: done))
    }

    /// Removes one interface of a running container (network disconnect) in the
    /// background; `done` runs once it is gone.
    public func releaseInterface(hostInterface: String, done: @escaping @Sendable () -> Void) {
        teardowns.submit(TeardownThread.Job(links: [hostInterface], namespaceDropped: false, done: done))
    }

    /// Deletes the container's veths and its namespace file. Best effort: every step
    /// runs even when an earlier one fails.
    public func destroySandbox(path: String, hostInterfaces: [String]) async {
        _ = try? await thread.run { scope in
            for name in hostInterfaces {
                try? scope.context.netlink.deleteLink(named: name)
            }
            NamespaceFile.remove(path: path)
        }
    }

    // MARK: reconciliation

    /// Names of veth links enslaved to any of `bridges`.
    public func bridgePorts(bridges: [String]) async throws -> [String] {
        try await thread.run { scope in
            let links = try scope.context.netlink.links()
            let indexes = Set(links.filter { bridges.contains($0.name) }.map(\.index))
            return links.filter { link in link.masterIndex.map(indexes.contains) ?? false }.map(\.name)
        }
    }

    public func deleteLinks(_ names: [String]) async {
        _ = try? await thread.run { scope in
            for name in names { try? scope.context.netlink.deleteLink(named: name) }
        }
    }
}

import BerthCore
import Glibc
import Namespaces
import Netlink

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

    // MARK: sandboxes

    /// Gives the container a namespace (a spare one when ready, else a new one bound at
    /// `spec.path`) with loopback up and every interface configured, and returns the
    /// namespace file's path with the host end's name of each interface: the spec's, or
    /// that of the spare's pair when the first interface used one. On failure nothing is
    /// left: veths are deleted and the namespace file removed.
    ///
    /// `portsNamed`, if given, is called on the worker's thread with the host ends' names
    /// as soon as they are decided, before the interfaces are configured: work keyed by
    /// them (the anti-spoofing guard) can run meanwhile on another thread.
    public func createSandbox(_ spec: SandboxSpec, portsNamed: (@Sendable ([String]) -> Void)? = nil) async throws -> Sandbox {
        let sandbox = try await thread.run { scope -> Sandbox in
            let host = scope.context
            // Overlay ports are made in the overlay's namespace: no ready pairs for them.
            let shape = spec.interfaces.first.flatMap { host.overlays[$0.bridgeName] == nil ? PortShape($0) : nil }
            if shape != nil { host.hotShape = shape }
            if let shape, let found = host.pluggedSpares.firstIndex(where: { $0.port?.shape == shape }) {
                let spare = host.pluggedSpares.remove(at: found)
                return try Self.configure(spec, spare: spare, host: host, portsNamed: portsNamed)
            }
            if !host.spares.isEmpty {
                return try Self.configure(spec, spare: host.spares.removeFirst(), host: host, portsNamed: portsNamed)
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
            return try Self.configure(spec, spare: SpareNamespace(file: namespace, netlink: inner, port: nil), host: host,
                                      portsNamed: portsNamed)
        }
        refillSpares()
        return sandbox
    }

    /// Plugs every interface of `spec` into the namespace (the first through the spare's
    /// pair when it has one) and hands the namespace over: its descriptor is closed, or
    /// on failure the namespace is removed with the veths made.
    private static func configure(_ spec: SandboxSpec, spare: SpareNamespace, host: HostLinks,
                                  portsNamed: (@Sendable ([String]) -> Void)?) throws -> Sandbox {
        defer { spare.file.close() }
        if let portsNamed, !spec.interfaces.isEmpty {
            // A spare's pair keeps its host end's name (`finish` even when it replaces it).
            portsNamed(spec.interfaces.enumerated().map { position, interface in
                position == 0 ? spare.port?.hostName ?? interface.hostName : interface.hostName
            })
        }
        var created: [String] = []
        do {
            for (position, interface) in spec.interfaces.enumerated() {
                if position == 0, let port = spare.port {
                    try finish(port, as: interface, host: host, inner: spare.netlink, namespaceFD: spare.file.fd)
                    created.append(port.hostName)
                } else {
                    try plug(interface, host: host, inner: spare.netlink, namespaceFD: spare.file.fd)
                    created.append(interface.hostName)
                }
            }
        } catch {
            var undo = StepFailures("undoing the failed sandbox \(spare.file.path)")
            for name in created { undo.step("delete \(name)") { try host.netlink.removeLink(named: name) } }
            if let port = spare.port { undo.step("delete \(port.hostName)") { try host.netlink.removeLink(index: port.hostIndex) } }
            NamespaceFile.remove(path: spare.file.path)
            driverLog.report(undo)
            throw error
        }
        // A spare's unused pair (the container has no interface) goes with it.
        if spec.interfaces.isEmpty, let port = spare.port {
            driverLog.cleanUp("delete \(port.hostName)", during: "sandbox without interfaces") {
                try host.netlink.removeLink(index: port.hostIndex)
            }
        }
        return Sandbox(path: spare.file.path, hostInterfaces: created)
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
        var point = try host.attachPoint(interface.bridgeName)
        var created: (host: Int32, peer: Int32)?
        do {
            created = try createVeth(interface, bridge: point.bridge, netlink: point.netlink, namespaceFD: namespaceFD)
        } catch let error as NetlinkError where point.isHost && (error.errno == ENODEV || error.errno == EINVAL) {
            // The bridge may have been deleted behind our back: look it up again once.
            host.bridgeIndexes[interface.bridgeName] = nil
            point = try host.attachPoint(interface.bridgeName)
            created = try createVeth(interface, bridge: point.bridge, netlink: point.netlink, namespaceFD: namespaceFD)
        }
        do {
            // A bridge port needs no IPv6 of its own. Without this, the kernel gives the
            // host end a link-local address, routes and DAD when it gets carrier, and that
            // work grows with the number of ports. Set before the peer comes up. (In an
            // overlay's namespace, whose sysctls the host's /proc does not show, at least
            // no link-local address.)
            if point.isHost {
                try disableIPv6(interface.hostName, host: host, index: created?.host)
            } else if let hostEnd = try created?.host ?? point.netlink.link(named: interface.hostName)?.index {
                try point.netlink.perform(.setIPv6AddressGeneration(index: hostEnd, mode: .none))
            }
            let index: Int32
            if let created {
                index = created.peer
            } else if let link = try inner.link(named: interface.containerName) {
                index = link.index
            } else {
                throw BerthError(.kernel, "\(interface.containerName) did not appear in the container's namespace")
            }
            try configureInside(interface, index: index, inner: inner, setMAC: false)
        } catch {
            driverLog.cleanUp("delete \(interface.hostName)", during: "undoing a failed plug") {
                try point.netlink.removeLink(named: interface.hostName)
            }
            throw error
        }
    }

    /// The alias of a spare pair's host end until a container takes it.
    public static let spareAlias = "berth spare"

    /// Completes a spare's pair as `interface`: one request checks that its host end is
    /// still on the bridge (setting the master it has is a no-op; a deleted end or bridge
    /// fails) and drops its spare alias, one batch configures the inside end. A pair whose
    /// bridge went away behind our back is replaced by a new one.
    private static func finish(_ port: PluggedPort, as interface: InterfaceSpec, host: HostLinks, inner: RouteNetlink,
                               namespaceFD: Int32) throws {
        var claimed = false
        // A failed lookup is a bridge gone or replaced: the pair is replaced, and `plug`
        // looks the bridge up again and reports why.
        if (try? host.bridgeIndex(interface.bridgeName)) == port.bridgeIndex {
            do {
                try host.netlink.perform(.setMaster(index: port.hostIndex, master: port.bridgeIndex, alias: ""))
                claimed = true
            } catch let error as NetlinkError where error.errno == ENODEV || error.errno == EINVAL {
                claimed = false
            }
        }
        guard claimed else {
            driverLog.cleanUp("delete \(port.hostName)", during: "replacing a stale spare pair") {
                try host.netlink.removeLink(index: port.hostIndex)
            }
            host.bridgeIndexes[interface.bridgeName] = nil
            var replacement = interface
            replacement.hostName = port.hostName
            try plug(replacement, host: host, inner: inner, namespaceFD: namespaceFD)
            return
        }
        try configureInside(interface, index: port.peerIndex, inner: inner, setMAC: true, alreadyUp: !port.shape.ipv6)
    }

    /// The inside end's MAC (for a spare's pair), addresses, link state (unless a spare's
    /// pair is already up) and routes, in one batch.
    private static func configureInside(_ interface: InterfaceSpec, index: Int32, inner: RouteNetlink, setMAC: Bool,
                                        alreadyUp: Bool = false) throws {
        var requests: [NetlinkRequest] = []
        // veth takes a new MAC while up.
        if setMAC { requests.append(.setMAC(index: index, mac: interface.mac)) }
        if interface.address6 == nil, !alreadyUp {
            // No IPv6 on this network: no link-local address or DAD inside either.
            requests.append(.setIPv6AddressGeneration(index: index, mode: .none))
        }
        requests.append(.addAddress(interface.address, index: index))
        if let address6 = interface.address6 {
            requests.append(.addAddress(address6, index: index, noDAD: true))
        }
        if !alreadyUp { requests.append(.setUp(index: index)) }
        if let gateway = interface.gateway {
            requests.append(.addRoute(destination: nil, gateway: gateway, outputIndex: index, metric: nil))
        }
        if let gateway6 = interface.gateway6 {
            requests.append(.addRoute(destination: Optional<IPv6Network>.none, gateway: gateway6, outputIndex: index, metric: nil))
        }
        try inner.perform(requests)
    }

    /// Turns IPv6 off on a host end (a bridge port has no use for it: the bridge takes its
    /// frames before any IP stack of the port sees them) through its sysctl, before the
    /// link has carrier, so it gets no link-local address and no multicast route. Every
    /// port with IPv6 kept one such route, and adding one, or any IPv6 change on a port
    /// without carrier, walks all of them: 0.6 ms of CPU per start at 1,000 containers.
    /// Setting only the address generation (RTM_SETLINK or its sysctl) still leaves the
    /// route. The thread must be in the home namespace: /proc/sys/net is the calling
    /// thread's namespace's.
    static func disableIPv6(_ name: String, host: HostLinks, index: Int32?) throws {
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

    /// Creates the pair for `interface` (see `createPair`).
    private static func createVeth(_ interface: InterfaceSpec, bridge: Int32, netlink: RouteNetlink, namespaceFD: Int32) throws -> (host: Int32, peer: Int32)? {
        try createPair(.createVeth(
            name: interface.hostName, peerName: interface.containerName, peerNamespaceFD: namespaceFD,
            masterIndex: bridge, up: true, mtu: interface.mtu, peerMAC: interface.mac, group: interface.portGroup),
            netlink: netlink)
    }

    /// Sends a veth pair's creation and returns both ends' indexes, which the kernel's echo
    /// of the new host end carries (its index and IFLA_LINK), saving lookups; nil without
    /// an echo.
    static func createPair(_ request: NetlinkRequest, netlink: RouteNetlink) throws -> (host: Int32, peer: Int32)? {
        let replies = try netlink.exchange(request)
        // An echo that does not parse is as good as none: callers then look the link up.
        guard let echoed = replies.first(where: { $0.type == RTM.newLink }), let info = try? LinkInfo(message: echoed),
              let peer = info.linkIndex else {
            return nil
        }
        return (info.index, peer)
    }

    /// Removes one interface (network disconnect): deleting the host end removes the pair.
    /// The host end is in the host's namespace, or in an overlay's.
    public func detach(hostInterface: String) async throws {
        try await thread.run { scope in
            for netlink in [scope.context.netlink] + scope.context.overlays.values.map(\.netlink) {
                do {
                    try netlink.deleteLink(named: hostInterface)
                    return
                } catch let error as NetlinkError where error.errno == ENODEV {
                    continue
                }
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

    /// Deletes the container's veths and its namespace file. Every step runs even when an
    /// earlier one fails; the failed ones are logged together (links already gone are not
    /// failures).
    public func destroySandbox(path: String, hostInterfaces: [String]) async {
        let failures: StepFailures
        do {
            failures = try await thread.run { scope in
                let netlink = scope.context.netlink
                var failures = StepFailures("destroying the sandbox \(path)")
                for name in hostInterfaces {
                    failures.step("delete \(name)") { try netlink.removeLink(named: name) }
                }
                NamespaceFile.remove(path: path)
                return failures
            }
        } catch {
            driverLog.warning("destroying the sandbox \(path): \(error)")
            return
        }
        driverLog.report(failures)
    }
}

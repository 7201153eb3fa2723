import BerthCore
import Namespaces
import Netlink

/// Spare namespaces: made ahead of time on the worker thread so a container start does
/// not wait for the kernel to build one (see `HostLinks.spares` and `PortShape`).
extension NetworkWorker {
    /// Keeps `count` spare namespaces under `directory` from now on, and as many with a
    /// veth pair for the shape of the latest start. Files there that are not in use must
    /// have been removed first (reconciliation does).
    public func keepSpareNamespaces(_ count: Int, in directory: String) {
        _ = Task {
            do {
                try await thread.run { scope in
                    scope.context.spareDirectory = directory
                    scope.context.spareTarget = count
                }
            } catch {
                driverLog.warning("keeping spare namespaces: \(error)")
            }
            refillSpares()
        }
    }

    /// Tops the spares up, one namespace per job so container starts queued meanwhile
    /// are not held up behind a whole refill: bare ones first, then plugged ones for the
    /// hot shape, after dropping plugged ones of another shape.
    func refillSpares() {
        _ = Task {
            do {
                while try await thread.run({ scope in try Self.refillOne(scope) }) {}
            } catch {
                // Starts make their own namespace meanwhile; the next start refills again.
                driverLog.warning("making a spare namespace failed: \(error)")
            }
        }
    }

    /// One step of a refill; false when there is nothing left to do.
    private static func refillOne(_ scope: borrowing NamespaceScope<HostLinks>) throws -> Bool {
        let host = scope.context
        guard let directory = host.spareDirectory else { return false }
        if host.spares.count < host.spareTarget {
            host.spares.append(try makeSpare(in: directory, scope: scope, plugging: nil))
            return true
        }
        if let stale = host.pluggedSpares.firstIndex(where: { $0.port?.shape != host.hotShape }) {
            discard(host.pluggedSpares.remove(at: stale), host: host)
            return true
        }
        guard let shape = host.hotShape, host.pluggedSpares.count < host.spareTarget else { return false }
        host.pluggedSpares.append(try makeSpare(in: directory, scope: scope, plugging: shape))
        return true
    }

    private static func makeSpare(in directory: String, scope: borrowing NamespaceScope<HostLinks>,
                                  plugging shape: PortShape?) throws -> SpareNamespace {
        var generator = SystemRandomNumberGenerator()
        let path = directory + "/spare-" + String(generator.next() as UInt64, radix: 16)
        var spare = try scope.createNamespace(at: path) { file in
            let netlink = try RouteNetlink()
            try netlink.perform(.setUp(index: 1))
            return SpareNamespace(file: file, netlink: netlink, port: nil)
        }
        guard let shape else { return spare }
        let host = scope.context
        do {
            // Named like any host end ("veth" and 7 hex digits); the endpoint takes this name.
            let hostName = "veth" + String(String(generator.next() as UInt64, radix: 16).suffix(7))
            let bridge = try host.bridgeIndex(shape.bridgeName)
            guard let (hostIndex, peer) = try createPair(.createVeth(
                name: hostName, peerName: shape.containerName, peerNamespaceFD: spare.file.fd,
                masterIndex: bridge, up: true, mtu: shape.mtu, group: shape.portGroup), netlink: host.netlink) else {
                driverLog.cleanUp("delete \(hostName)", during: "spare pair without an echo") {
                    try host.netlink.removeLink(named: hostName)
                }
                throw BerthError(.kernel, "the kernel did not echo the new link \(hostName)")
            }
            try disableIPv6(hostName, host: host, index: hostIndex)
            // Tells `ip link` readers (and the tests) that this port waits for a container.
            try host.netlink.perform(.setAlias(index: hostIndex, alias: Self.spareAlias))
            if !shape.ipv6 {
                try spare.netlink.perform([.setIPv6AddressGeneration(index: peer, mode: .none), .setUp(index: peer)])
            }
            spare.port = PluggedPort(shape: shape, bridgeIndex: bridge, hostName: hostName, hostIndex: hostIndex, peerIndex: peer)
            return spare
        } catch {
            discard(spare, host: host)
            throw error
        }
    }

    /// Removes a spare: its namespace file and the veth pair if it has one.
    static func discard(_ spare: SpareNamespace, host: HostLinks) {
        if let port = spare.port {
            driverLog.cleanUp("delete \(port.hostName)", during: "discarding a spare") {
                try host.netlink.removeLink(index: port.hostIndex)
            }
        }
        spare.file.close()
        NamespaceFile.remove(path: spare.file.path)
    }

    /// Removes the spare namespaces (daemon shutdown). Their pairs are not deleted one by
    /// one (each deletion waits for the kernel): they go with their namespaces, which the
    /// kernel takes down in the background once the files and sockets are gone.
    public func dropSpareNamespaces() async {
        do {
            try await thread.run { scope in Self.dropAll(scope.context) }
        } catch {
            driverLog.warning("removing the spare namespaces: \(error)")
        }
    }

    private static func dropAll(_ host: HostLinks) {
        host.spareTarget = 0
        host.hotShape = nil
        for spare in host.spares + host.pluggedSpares {
            spare.file.close()
            NamespaceFile.remove(path: spare.file.path)
        }
        host.spares = []
        host.pluggedSpares = []  // closes their netlink sockets, the last hold on them
    }
}

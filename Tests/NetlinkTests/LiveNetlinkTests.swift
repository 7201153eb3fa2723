import BerthCore
import Glibc
import Netlink
import Testing

// Against the real kernel, only inside a throwaway network namespace:
//   BERTH_LIVE_NETNS=1 unshare --net swift test --filter NetlinkTests
// `liveNamespaceAllowed` also refuses to run in PID 1's namespace (the host's).
@Suite(.serialized, .enabled(if: liveNamespaceAllowed, "needs BERTH_LIVE_NETNS=1 inside `unshare --net`"))
struct LiveNetlinkTests {
    let netlink: RouteNetlink

    init() throws {
        netlink = try RouteNetlink()
    }

    /// Removes leftovers of a failed earlier test by name; missing links are fine.
    func remove(_ names: String...) {
        for name in names { try? netlink.deleteLink(named: name) }
    }

    @Test func bridgeVethAddressesRoutes() throws {
        remove("lt-br0", "lt-veth0", "lt-eth0")
        defer { remove("lt-br0", "lt-veth0", "lt-eth0") }

        // The freshly unshared namespace has lo, down.
        let lo = try #require(try netlink.link(named: "lo"))
        #expect(lo.index == 1 && lo.mac == MACAddress("00:00:00:00:00:00"))
        try netlink.setUp(index: lo.index)

        let bridgeMAC = try #require(MACAddress("02:42:00:00:00:01"))
        let bridge = try netlink.createBridge(name: "lt-br0", mtu: 1500, mac: bridgeMAC, up: true)
        let bridgeInfo = try #require(try netlink.link(index: bridge))
        #expect(bridgeInfo.name == "lt-br0")
        #expect(bridgeInfo.kind == "bridge")
        #expect(bridgeInfo.mac == bridgeMAC)
        #expect(bridgeInfo.isUp)

        // The hot path: one exchange creates the pair, names and addresses the peer in
        // the namespace given by fd (this same one here), enslaves and raises the host end.
        let namespace = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        try #require(namespace >= 0)
        defer { close(namespace) }
        let peerMAC = try #require(MACAddress("02:42:ac:1e:00:02"))
        let host = try netlink.createVeth(
            name: "lt-veth0", peerName: "lt-eth0", peerNamespaceFD: namespace, masterIndex: bridge,
            up: true, mtu: 1400, peerMAC: peerMAC)
        let hostInfo = try #require(try netlink.link(named: "lt-veth0"))
        #expect(hostInfo.index == host)
        #expect(hostInfo.kind == "veth")
        #expect(hostInfo.masterIndex == bridge)
        #expect(hostInfo.slaveKind == "bridge")
        #expect(hostInfo.isUp && hostInfo.mtu == 1400)
        let peer = try #require(try netlink.link(named: "lt-eth0"))
        #expect(peer.mac == peerMAC && peer.mtu == 1400 && !peer.isUp)
        try netlink.setUp(index: peer.index)
        #expect(peer.linkIndex == host && hostInfo.linkIndex == peer.index)

        let links = try netlink.links()
        #expect(Set(links.map(\.name)).isSuperset(of: ["lo", "lt-br0", "lt-veth0", "lt-eth0"]))

        // Addresses, both families, read back by dump.
        let gateway = try #require(IPv4Network("172.30.0.1/24"))
        let gateway6 = try #require(IPv6Network("fd00:30::1/64"))
        let container = try #require(IPv4Network("172.30.0.2/24"))
        try netlink.addAddress(gateway, index: bridge)
        try netlink.addAddress(gateway6, index: bridge, noDAD: true)
        try netlink.addAddress(container, index: peer.index)
        let addresses = try netlink.addresses(index: bridge)
        #expect(addresses.compactMap(\.ipv4) == [gateway])
        let v6 = try #require(addresses.first { $0.ipv6 == gateway6 })
        #expect(v6.flags & 0x02 != 0 && !v6.isTentative)
        #expect(try netlink.addresses(family: .ipv4, index: peer.index).compactMap(\.ipv4) == [container])

        // Routes: connected ones appear by themselves; add a gateway route and defaults.
        let remote = try #require(IPv4Network("10.99.0.0/16"))
        try netlink.addRoute(destination: remote, gateway: IPv4Address("172.30.0.2"), outputIndex: bridge)
        try netlink.addRoute(destination: IPv4Network?.none, gateway: IPv4Address("172.30.0.1"), outputIndex: peer.index)
        try netlink.addRoute(destination: IPv6Network?.none, gateway: IPv6Address("fd00:30::fe"), outputIndex: bridge)
        let routes = try netlink.routes()
        #expect(routes.allSatisfy { $0.isMainTable })
        #expect(routes.contains { $0.destination == .v4(remote.address) && $0.prefixLength == 16 && $0.outputIndex == bridge })
        #expect(routes.contains {
            $0.family == .ipv4 && $0.isDefault && $0.gateway == IPAddress("172.30.0.1") && $0.outputIndex == peer.index
        })
        #expect(routes.contains { $0.family == .ipv6 && $0.isDefault && $0.gateway == IPAddress("fd00:30::fe") })
        #expect(routes.contains { $0.destination == IPAddress("172.30.0.0") && $0.prefixLength == 24 && $0.gateway == nil })

        try netlink.deleteRoute(destination: remote, gateway: IPv4Address("172.30.0.2"))
        try netlink.deleteRoute(destination: IPv4Network?.none)
        try netlink.deleteRoute(destination: IPv6Network?.none, gateway: IPv6Address("fd00:30::fe"))
        let remaining = try netlink.routes()
        #expect(!remaining.contains { $0.isDefault })
        #expect(!remaining.contains { $0.destination == .v4(remote.address) })

        // Deleting a route that is gone is "not found".
        let missing = try #require(throws: NetlinkError.self) { try netlink.deleteRoute(destination: remote) }
        #expect(missing.isNotFound && missing.asBerthError.code == .notFound)

        try netlink.deleteAddress(gateway6, index: bridge)
        try netlink.deleteAddress(gateway, index: bridge)
        #expect(try netlink.addresses(index: bridge).compactMap(\.ipv4).isEmpty)

        // Deleting one end of the pair removes both.
        try netlink.deleteLink(named: "lt-veth0")
        #expect(try netlink.link(named: "lt-eth0") == nil)
        try netlink.deleteLink(index: bridge)
        #expect(try netlink.link(index: bridge) == nil)
    }

    @Test func linkChanges() throws {
        remove("lt-br1", "lt-veth1", "lt-peer1", "lt-renamed")
        defer { remove("lt-br1", "lt-veth1", "lt-peer1", "lt-renamed") }
        let bridge = try netlink.createBridge(name: "lt-br1")
        let host = try netlink.createVeth(name: "lt-veth1", peerName: "lt-peer1")
        let peer = try #require(try netlink.link(named: "lt-peer1")).index

        try netlink.setMaster(index: host, master: bridge)
        #expect(try netlink.link(index: host)?.masterIndex == bridge)
        try netlink.perform(.setAlias(index: host, alias: "berth spare"))
        #expect(try netlink.link(index: host)?.alias == "berth spare")
        // The master it already has: a no-op for the port, and the alias goes.
        try netlink.perform(.setMaster(index: host, master: bridge, alias: ""))
        let claimed = try #require(try netlink.link(index: host))
        #expect(claimed.masterIndex == bridge && claimed.alias == nil)
        try netlink.setMaster(index: host, master: 0)
        #expect(try netlink.link(index: host)?.masterIndex == nil)
        // A master that is gone fails (the spare pair check relies on it).
        #expect(throws: NetlinkError.self) { try netlink.perform(.setMaster(index: host, master: 999_999, alias: "")) }

        try netlink.setMTU(index: peer, mtu: 1280)
        let mac = try #require(MACAddress("02:42:0a:0b:0c:0d"))
        try netlink.setMAC(index: peer, mac: mac)
        try netlink.setName(index: peer, name: "lt-renamed")
        let renamed = try #require(try netlink.link(index: peer))
        #expect(renamed.name == "lt-renamed" && renamed.mtu == 1280 && renamed.mac == mac)

        try netlink.setUp(index: peer)
        #expect(try netlink.link(index: peer)?.isUp == true)
        try netlink.setDown(index: peer)
        #expect(try netlink.link(index: peer)?.isUp == false)

        // Moving into the namespace it is already in exercises IFLA_NET_NS_FD.
        let namespace = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        try #require(namespace >= 0)
        defer { close(namespace) }
        try netlink.moveToNamespace(index: peer, fd: namespace)
        #expect(try netlink.link(named: "lt-renamed") != nil)

        // A batch: all applied, one datagram.
        try netlink.perform([.setUp(index: bridge), .setMaster(index: host, master: bridge), .setUp(index: host)])
        let hostInfo = try #require(try netlink.link(index: host))
        #expect(hostInfo.isUp && hostInfo.masterIndex == bridge)
        #expect(try netlink.link(index: bridge)?.isUp == true)
    }

    @Test func kernelErrors() throws {
        remove("lt-br2")
        defer { remove("lt-br2") }
        let bridge = try netlink.createBridge(name: "lt-br2")

        let exists = try #require(throws: NetlinkError.self) { try netlink.createBridge(name: "lt-br2") }
        #expect(exists.errno == EEXIST && exists.isExists)
        #expect(exists.operation == "create bridge lt-br2")
        #expect(exists.asBerthError.code == .conflict)
        #expect(exists.description.hasPrefix("netlink: create bridge lt-br2: File exists"))

        // The kernel explains this one through extended ack.
        let tooBig = try #require(throws: NetlinkError.self) { try netlink.setMTU(index: bridge, mtu: 1_000_000) }
        #expect(tooBig.errno == EINVAL)
        #expect(tooBig.kernelMessage?.isEmpty == false)
        #expect(tooBig.description.contains("(kernel: \""))

        let unknown = try #require(throws: NetlinkError.self) { try netlink.deleteLink(index: 99_999) }
        #expect(unknown.errno == ENODEV && unknown.asBerthError.code == .notFound)
        #expect(try netlink.link(named: "lt-nothing") == nil)

        // A batch reports the first failure by name and still leaves the socket in step.
        let failure = try #require(throws: NetlinkError.self) {
            try netlink.perform([.setUp(index: bridge), .deleteLink(index: 99_998), .setMTU(index: bridge, mtu: 1_000_000)])
        }
        #expect(failure.operation == "delete link 99998")
        #expect(try netlink.link(index: bridge)?.isUp == true)

        // Requests after the failed ones still match their replies.
        try netlink.setDown(index: bridge)
        #expect(try netlink.link(index: bridge)?.isUp == false)
    }

    @Test func vxlanAndForwardingEntries() throws {
        remove("lt-br3", "lt-vx42")
        defer { remove("lt-br3", "lt-vx42") }
        let bridge = try netlink.createBridge(name: "lt-br3", up: true)
        try netlink.addAddress(try #require(IPv4Network("172.31.0.1/24")), index: bridge)

        let vxlan = try netlink.createVXLAN(
            name: "lt-vx42", vni: 42, localAddress: IPAddress("172.31.0.1"), port: 4789,
            underlayIndex: bridge, learning: false, mtu: 1450)
        let info = try #require(try netlink.link(index: vxlan))
        #expect(info.kind == "vxlan" && info.mtu == 1450)

        let flood = try #require(MACAddress("00:00:00:00:00:00"))
        let remote = try #require(IPAddress("172.31.0.2"))
        try netlink.addFDB(mac: flood, index: vxlan, destination: remote, append: true)
        let remoteMAC = try #require(MACAddress("02:42:ac:1f:00:09"))
        try netlink.addFDB(mac: remoteMAC, index: vxlan, destination: remote)
        let fdb = try netlink.neighbours(family: .bridge, index: vxlan)
        #expect(fdb.contains { $0.mac == flood && $0.address == remote && $0.isPermanent })
        #expect(fdb.contains { $0.mac == remoteMAC && $0.address == remote })

        let neighbour = try #require(IPAddress("172.31.0.9"))
        try netlink.addNeighbour(neighbour, mac: remoteMAC, index: bridge)
        let arp = try netlink.neighbours(family: .ipv4, index: bridge)
        #expect(arp.contains { $0.address == neighbour && $0.mac == remoteMAC && $0.isPermanent })

        try netlink.deleteNeighbour(neighbour, index: bridge)
        try netlink.deleteFDB(mac: remoteMAC, index: vxlan, destination: remote)
        try netlink.deleteFDB(mac: flood, index: vxlan, destination: remote)
        #expect(try !netlink.neighbours(family: .bridge, index: vxlan).contains { $0.mac == remoteMAC })
        #expect(try !netlink.neighbours(family: .ipv4, index: bridge).contains { $0.address == neighbour })
    }

    @Test func vethPeerGoesStraightIntoAnotherNamespace() throws {
        remove("lt-veth5")
        defer { remove("lt-veth5") }
        // A second, empty namespace: a thread unshares its own network namespace and
        // opens a netlink socket and a namespace fd there, as berthd does for a
        // container. Both outlive the thread and keep the namespace alive.
        var socket: NetlinkSocket?
        var namespace: Int32 = -1
        var failure: String?
        onNewThread {
            guard unshareNetworkNamespace() == 0 else {
                failure = "unshare(CLONE_NEWNET): \(String(cString: strerror(errno)))"
                return
            }
            namespace = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
            do { socket = try NetlinkSocket() } catch { failure = "\(error)" }
        }
        try #require(failure == nil, "\(failure ?? "")")
        let container = RouteNetlink(transport: try #require(socket))
        defer { close(namespace) }
        try #require(namespace >= 0)
        #expect(try container.links().map(\.name) == ["lo"])

        // One exchange from this namespace: the peer appears over there as eth0.
        let mac = try #require(MACAddress("02:42:ac:1f:05:02"))
        let host = try netlink.createVeth(
            name: "lt-veth5", peerName: "eth0", peerNamespaceFD: namespace, up: true, mtu: 1450,
            peerMAC: mac)
        #expect(try netlink.link(named: "eth0") == nil)
        let hostInfo = try #require(try netlink.link(index: host))
        #expect(hostInfo.linkNetnsID != nil)
        let eth0 = try #require(try container.link(named: "eth0"))
        #expect(eth0.mac == mac && eth0.mtu == 1450 && !eth0.isUp && eth0.kind == "veth")

        // No IPv6 link-local addresses on either end once the pair has carrier.
        try netlink.perform(.setIPv6AddressGeneration(index: host, mode: .none))

        // The socket opened over there configures that namespace from this thread.
        try container.perform([
            .setIPv6AddressGeneration(index: eth0.index, mode: .none),
            .setUp(index: eth0.index),
            .addAddress(try #require(IPv4Network("10.5.0.2/24")), index: eth0.index),
            .addRoute(destination: IPv4Network?.none, gateway: IPv4Address("10.5.0.1"), outputIndex: eth0.index),
        ])
        #expect(try container.addresses(family: .ipv4, index: eth0.index).compactMap(\.ipv4) == [IPv4Network("10.5.0.2/24")])
        #expect(try container.routes(family: .ipv4).contains { $0.isDefault && $0.gateway == IPAddress("10.5.0.1") })
        #expect(try !netlink.routes(family: .ipv4).contains { $0.gateway == IPAddress("10.5.0.1") })
        usleep(100_000)  // carrier changes reach IPv6 through the kernel's linkwatch work
        #expect(try netlink.addresses(family: .ipv6, index: host).isEmpty)
        #expect(try container.addresses(family: .ipv6, index: eth0.index).isEmpty)

        // Deleting the host end removes the peer in the other namespace too.
        try netlink.deleteLink(index: host)
        #expect(try container.link(named: "eth0") == nil)
    }
}

/// unshare(CLONE_NEWNET) for the calling thread. Swift's Glibc module does not import
/// unshare(2), so it is looked up by name.
func unshareNetworkNamespace() -> Int32 {
    typealias Unshare = @convention(c) (Int32) -> Int32
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "unshare") else { return -1 }
    return unsafeBitCast(symbol, to: Unshare.self)(0x4000_0000)
}

/// Runs `body` on a new thread and waits for it, so a namespace change stays there.
func onNewThread(_ body: @escaping () -> Void) {
    final class Body: @unchecked Sendable {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    let context = Unmanaged.passRetained(Body(body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(&thread, nil, { raw in
        if let raw { Unmanaged<Body>.fromOpaque(raw).takeRetainedValue().run() }
        return nil
    }, context)
    if created == 0 {
        pthread_join(thread, nil)
    } else {
        Unmanaged<Body>.fromOpaque(context).release()
    }
}

// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "berth",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "berthd", targets: ["berthd"]),
        .executable(name: "berth", targets: ["berth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        // SHA-256 for image IDs (3.x: the line the local package set and CI have).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // Value types shared by every layer: addresses, prefixes, MACs, the error type.
        .target(name: "BerthCore"),
        // The few Linux calls Swift's Glibc module does not expose (setns, unshare, pidfd_open).
        .target(name: "CLinux"),
        // rtnetlink spoken directly: socket, attribute (TLV) codec, link/address/route requests.
        .target(name: "Netlink", dependencies: ["BerthCore"]),
        // A dedicated OS thread with a job queue, for state bound to one thread (namespaces).
        .target(name: "Threads"),
        // Network namespace handles and the dedicated thread that enters them.
        .target(name: "Namespaces", dependencies: ["BerthCore", "CLinux", "Threads"]),
        // Subnet pools and bitmap address allocation.
        .target(name: "IPAM", dependencies: ["BerthCore"]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // Key-value store with revisions and compare-and-swap; the embedded one is SQLite.
        .target(name: "Store", dependencies: ["BerthCore", "CSQLite"]),
        // Images, root filesystems, OCI bundles, runc, and watching container processes.
        .target(name: "ContainerRuntime", dependencies: [
            "BerthCore", "CLinux", "Threads", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // HTTP/1.1 over unix sockets (server with router, client) on SwiftNIO.
        .target(name: "HTTPUnix", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // Embedded DNS for user-defined networks: wire codec, scoped records, forwarding.
        .target(name: "DNS", dependencies: [
            "BerthCore", "CLinux",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // etcd v3 client over its JSON gateway (HTTP/1.1, optional TLS): the multi-host store.
        .target(name: "Etcd", dependencies: [
            "BerthCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // Cluster mode's state in etcd: key layout, records, transactions, the watch follower.
        .target(name: "Cluster", dependencies: [
            "BerthCore", "Etcd",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Docker Engine API JSON shapes, shared by daemon and CLI.
        .target(name: "DockerAPI", dependencies: ["BerthCore"]),
        .systemLibrary(name: "CNftables", path: "Sources/CNftables", providers: [.apt(["libnftables-dev"])]),
        // Published ports in host-firewall mode: connections the host's input path let
        // through, relayed to the container.
        .target(name: "PortRelay", dependencies: [
            "BerthCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // NAT, published ports and isolation: berth's nftables table, kept whole.
        .target(name: "Firewall", dependencies: [
            "BerthCore", "CLinux", "Netlink", "CNftables", "Threads", "PortRelay",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Network drivers: bridge (and an overlay's bridge + VXLAN device), host, none, container.
        .target(name: "Drivers", dependencies: [
            "BerthCore", "Netlink", "Namespaces", "IPAM", "Threads",
            // Teardowns run where no caller waits for their errors: what they leave is logged.
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The controller and the Docker-compatible API routes.
        .target(name: "Daemon", dependencies: [
            "BerthCore", "Netlink", "Namespaces", "IPAM", "Store", "ContainerRuntime",
            "Drivers", "DockerAPI", "HTTPUnix", "DNS", "Firewall", "Cluster", "Etcd",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "berthd", dependencies: [
            "Daemon", "BerthCore", "Firewall",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "berth", dependencies: [
            "DockerAPI", "HTTPUnix", "BerthCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "BerthCoreTests", dependencies: ["BerthCore"]),
        .testTarget(name: "ThreadsTests", dependencies: ["Threads"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "BerthCore"]),
        .testTarget(name: "IPAMTests", dependencies: ["IPAM", "BerthCore"]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
        .testTarget(name: "DockerAPITests", dependencies: ["DockerAPI"]),
        .testTarget(name: "ContainerRuntimeTests", dependencies: ["ContainerRuntime", "BerthCore", "CLinux"]),
        .testTarget(name: "HTTPUnixTests", dependencies: [
            "HTTPUnix",
            // ConnectionSet's unit test drives channels by hand.
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "DNSTests", dependencies: ["DNS", "BerthCore"]),
        .testTarget(name: "FirewallTests", dependencies: ["Firewall", "BerthCore", "Netlink"]),
        .testTarget(name: "PortRelayTests", dependencies: ["PortRelay", "BerthCore",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "EtcdTests", dependencies: ["Etcd", "BerthCore"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "BerthCore"]),
        // The controller over fakes of the kernel, nftables and runc: runs unprivileged.
        .testTarget(name: "DaemonTests", dependencies: [
            "Daemon", "BerthCore", "Drivers", "Firewall", "ContainerRuntime", "DockerAPI", "IPAM", "Store",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The network drivers' pure parts: the registry's answers and option validation.
        .testTarget(name: "DaemonDriverTests", dependencies: ["Daemon", "BerthCore", "DockerAPI"]),
    ],
    swiftLanguageModes: [.v6]
)

"""Multi-host overlay networks: three berthd nodes in three host namespaces joined by an
underlay bridge namespace, sharing a real etcd started by the test."""
import concurrent.futures
import json
import os
import sys
import time

import pytest

from cluster import Cluster, in_container
from harness import fails, run, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = [sys.executable, os.path.join(HERE, "peer_server.py")]
CLIENT = [sys.executable, os.path.join(HERE, "peer_client.py")]


@pytest.fixture
def cluster(make_host):
    made = []

    def factory(**kw):
        made.append(Cluster(make_host, **kw))
        return made[-1]

    yield factory
    for c in made:
        c.cleanup()


def networks(host):
    return {n["Name"]: n for n in json.loads(host.berth("network", "inspect", *[
        line.split()[1] for line in host.berth("network", "ls").stdout.splitlines()[1:]]).stdout)}


def has_network(host, name):
    return name in host.berth("network", "ls", "--format", "{{.Name}}").stdout.split()


def resolves(host, container, name):
    result = host.berth("exec", container, "nslookup", name, check=False)
    return result.returncode == 0 and "Address" in result.stdout.split("Name:", 1)[-1]


def pings(host, container, address, count=1):
    return host.berth("exec", container, "ping", "-c", str(count), "-W", "1", address, check=False).returncode == 0


def in_overlay(host, network_id, command):
    """Runs a shell command in the overlay's data-plane namespace on that node."""
    path = os.path.join(host.exec_root, "overlays", network_id[:12])
    return run(["nsenter", f"--net={path}", "sh", "-c", command]).stdout


def fdb_macs(host, network_id):
    return in_overlay(host, network_id, f"bridge fdb show dev vx-{network_id[:12]}")


def test_overlay_spans_three_nodes(cluster):
    c = cluster()
    node1, node2, node3 = c.nodes
    node1.berth("network", "create", "-d", "overlay", "--subnet", "10.10.0.0/24", "ov")
    created = networks(node1)["ov"]
    assert created["Driver"] == "overlay" and created["Scope"] == "global"
    for node in (node2, node3):
        wait_until(lambda: has_network(node, "ov"), timeout=5, message="the overlay to appear on every node")
        seen = networks(node)["ov"]
        assert seen["Id"] == created["Id"]
        assert seen["IPAM"]["Config"][0]["Subnet"] == "10.10.0.0/24"
        assert seen["Options"]["com.docker.network.driver.overlay.vxlanid_list"] == \
            created["Options"]["com.docker.network.driver.overlay.vxlanid_list"]
    # The real docker CLI sees it too.
    assert "ov" in node3.docker("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}").stdout.replace(
        "ov overlay global", "ov").split()

    for index, node in enumerate(c.nodes, start=1):
        node.berth("run", "-d", "--name", f"c{index}", "--network", "ov", "busybox", "sleep", "600")
    addresses = {f"c{i}": node.ip_of(f"c{i}", "ov") for i, node in enumerate(c.nodes, start=1)}
    assert len(set(addresses.values())) == 3

    # Every container reaches every other by IP and by name, across nodes.
    for index, node in enumerate(c.nodes, start=1):
        for other, address in addresses.items():
            if other == f"c{index}":
                continue
            wait_until(lambda: resolves(node, f"c{index}", other), timeout=5, message=f"{other} to resolve on node{index}")
            assert pings(node, f"c{index}", address)
            assert pings(node, f"c{index}", other)

    # The data plane is in a namespace of its own: bridge, VXLAN device and the gateway
    # pair's end there; the host keeps the pair's other end with the gateway address.
    short = created["Id"][:12]
    for node in c.nodes:
        assert f"vx-{short}" not in node.sh("ip -o link show").stdout
        assert "10.10.0.1/24" in node.sh(f"ip -o -4 addr show dev ov-{short}").stdout
        inside = in_overlay(node, created["Id"], "ip -o link show")
        assert f"vx-{short}" in inside and "gw0" in inside and "master br0" in inside

    # Frames to and from other nodes' containers skip connection tracking.
    remote = node1.sh("nft list set inet berth overlay_remote").stdout
    assert addresses["c2"] in remote and addresses["c3"] in remote and addresses["c1"] not in remote

    # The interface MTU is the underlay's minus 50, and a don't-fragment ping proves it:
    # 1450 - 28 bytes of IP and ICMP headers passes, one byte more does not.
    assert "mtu 1450" in node1.berth("exec", "c1", "ip", "link", "show", "eth0").stdout
    run_ping = ["ping", "-c", "1", "-W", "2", "-M", "do"]
    assert in_container(node1, "c1", [*run_ping, "-s", "1422", addresses["c2"]], check=False).returncode == 0
    assert in_container(node1, "c1", [*run_ping, "-s", "1423", addresses["c2"]], check=False).returncode != 0

    # Names are cluster-wide; the network cannot go while a node uses it.
    assert "already exists" in fails(node2, "network", "create", "-d", "overlay", "ov")
    assert "overlaps" in fails(node3, "network", "create", "-d", "overlay", "--subnet", "10.10.0.128/25", "ov2")
    assert "do not support" in fails(node1, "network", "create", "-d", "overlay", "-o",
                                     "com.docker.network.bridge.enable_icc=false", "ov3")
    assert "active endpoints" in fails(node2, "network", "rm", "ov")
    for index, node in enumerate(c.nodes, start=1):
        node.berth("rm", "-f", f"c{index}")
    wait_until(lambda: node2.berth("network", "rm", "ov", check=False).returncode == 0, timeout=5,
               message="the network to be removable once no node uses it")
    for node in c.nodes:
        wait_until(lambda: not has_network(node, "ov"), timeout=5, message="the overlay to vanish everywhere")
        assert "vx-" not in node.sh("ip -o link show").stdout and "ov-" not in node.sh("ip -o link show").stdout
        assert not os.listdir(os.path.join(node.exec_root, "overlays"))
        assert "10.10.0." not in node.sh("nft list set inet berth overlay_remote").stdout


def test_outbound_traffic_leaves_through_its_own_node(cluster):
    c = cluster(nodes=2)
    node1, node2 = c.nodes
    node1.berth("network", "create", "-d", "overlay", "ov")
    wait_until(lambda: has_network(node2, "ov"), timeout=5, message="the overlay on node2")
    node2.berth("run", "-d", "--name", "out", "--network", "ov", "busybox", "sleep", "600")
    # A server beyond the nodes (in the underlay namespace) sees node2's own address.
    process = node2.background_in(c.underlay.netns, [*SERVER, "tcp", "10.99.0.254", "7000"])
    assert process.poll() is None
    wait_until(lambda: ":7000" in c.underlay.sh("ss -ltn").stdout, message="the server to listen")
    answer = in_container(node2, "out", [*CLIENT, "tcp", "10.99.0.254", "7000"]).stdout.strip()
    assert answer == f"peer={node2.advertise}"

    # A running container joins the overlay live and leaves it again.
    node1.berth("run", "-d", "--name", "solo", "busybox", "sleep", "600")
    node1.berth("network", "connect", "ov", "solo")
    wait_until(lambda: resolves(node2, "out", "solo"), timeout=5, message="solo to resolve on node2 after connect")
    assert pings(node2, "out", "solo")
    # (by address: solo started on the default bridge, whose containers use no embedded DNS)
    assert pings(node1, "solo", node2.ip_of("out", "ov"))
    node1.berth("network", "disconnect", "ov", "solo")
    wait_until(lambda: not resolves(node2, "out", "solo"), timeout=5, message="solo to stop resolving after disconnect")


def test_concurrent_starts_on_all_nodes_get_distinct_addresses(cluster):
    c = cluster()
    node1 = c.nodes[0]
    node1.berth("network", "create", "-d", "overlay", "--subnet", "10.20.0.0/24", "ov")
    for node in c.nodes:
        wait_until(lambda: has_network(node, "ov"), timeout=5, message="the overlay on every node")

    def start(job):
        node, name = job
        node.berth("run", "-d", "--name", name, "--network", "ov", "busybox", "sleep", "600", timeout=120)
        return node.ip_of(name, "ov")

    jobs = [(node, f"n{i}c{k}") for i, node in enumerate(c.nodes) for k in range(4)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        addresses = list(pool.map(start, jobs))
    assert len(set(addresses)) == len(addresses), addresses
    # And they all work: the last container of node3 reaches the first of node1 by name.
    assert pings(c.nodes[2], "n2c3", "n0c0")


def test_dead_node_vanishes_within_the_ttl_and_resynchronises(cluster):
    c = cluster(ttl=3)
    node1, node2, node3 = c.nodes
    node1.berth("network", "create", "-d", "overlay", "--subnet", "10.30.0.0/24", "ov")
    for node in c.nodes:
        wait_until(lambda: has_network(node, "ov"), timeout=5, message="the overlay on every node")
    node1.berth("run", "-d", "--name", "a", "--network", "ov", "busybox", "sleep", "600")
    node3.berth("run", "-d", "--name", "b", "--network", "ov", "busybox", "sleep", "600")
    node3.berth("run", "-d", "--name", "gone", "--network", "ov", "busybox", "sleep", "600")
    gone_ip = node3.ip_of("gone", "ov")
    gone_mac = node3.inspect("gone")["NetworkSettings"]["Networks"]["ov"]["MacAddress"]
    vxlan = node1.inspect("a")["NetworkSettings"]["Networks"]["ov"]["NetworkID"]
    wait_until(lambda: resolves(node1, "a", "gone"), timeout=5, message="gone to resolve on node1")
    assert gone_mac in fdb_macs(node1, vxlan)

    # node3's daemon dies hard; its containers keep running, but the cluster drops them
    # within the TTL: no name, no forwarding entry, and the addresses are free again.
    node3.kill9()
    killed = time.time()
    wait_until(lambda: not resolves(node1, "a", "gone"), timeout=c.ttl + 5, message="gone to stop resolving")
    wait_until(lambda: gone_mac not in fdb_macs(node1, vxlan), timeout=2, message="the forwarding entry to go")
    assert time.time() - killed <= c.ttl + 3
    node2.berth("run", "-d", "--name", "taker", "--network", "ov", "--ip", gone_ip, "busybox", "sleep", "600")
    node2.berth("rm", "-f", "taker")

    # node3 comes back: its running containers are announced again under a new lease.
    node3.start()
    wait_until(lambda: resolves(node1, "a", "b"), timeout=10, message="b to resolve again after node3's restart")
    assert pings(node1, "a", "b")
    assert pings(node3, "b", "a")


def test_etcd_outage_keeps_traffic_and_catches_up(cluster):
    c = cluster(nodes=2, ttl=3)
    node1, node2 = c.nodes
    node1.berth("network", "create", "-d", "overlay", "ov")
    wait_until(lambda: has_network(node2, "ov"), timeout=5, message="the overlay on node2")
    node1.berth("run", "-d", "--name", "a", "--network", "ov", "busybox", "sleep", "600")
    node2.berth("run", "-d", "--name", "b", "--network", "ov", "busybox", "sleep", "600")
    wait_until(lambda: resolves(node1, "a", "b"), timeout=5, message="b to resolve")

    c.underlay.stop_member("m1")
    # Running containers keep talking; new cluster operations fail with one clear line.
    assert pings(node1, "a", "b", count=3)
    started = time.time()
    message = fails(node1, "network", "create", "-d", "overlay", "ov2")
    assert "cluster store" in message, message
    assert time.time() - started < 20
    time.sleep(c.ttl + 1)  # past the TTL: leases must be made again when etcd is back
    assert pings(node2, "b", "a")

    c.underlay.start_member("m1")
    wait_until(lambda: node1.berth("network", "create", "-d", "overlay", "ov2", check=False).returncode == 0,
               timeout=20, message="creates to work again once etcd is back")
    wait_until(lambda: has_network(node2, "ov2"), timeout=5, message="ov2 on node2")
    node2.berth("run", "-d", "--name", "late", "--network", "ov", "busybox", "sleep", "600")
    wait_until(lambda: resolves(node1, "a", "late"), timeout=10, message="a container started after the outage to resolve")
    # Both nodes re-registered: their endpoints are still there after another TTL.
    time.sleep(c.ttl + 1)
    assert resolves(node1, "a", "b") and resolves(node2, "b", "a")


def test_losing_the_etcd_leader_changes_nothing_visible(cluster):
    c = cluster(nodes=2, members=3, ttl=5)
    node1, node2 = c.nodes
    node1.berth("network", "create", "-d", "overlay", "ov")
    wait_until(lambda: has_network(node2, "ov"), timeout=5, message="the overlay on node2")
    node1.berth("run", "-d", "--name", "a", "--network", "ov", "busybox", "sleep", "600")
    leader = c.underlay.leader()
    assert leader
    c.underlay.stop_member(leader)
    # Every cluster operation still works, on both nodes, without an error.
    node2.berth("run", "-d", "--name", "b", "--network", "ov", "busybox", "sleep", "600")
    node2.berth("network", "create", "-d", "overlay", "ov2")
    wait_until(lambda: has_network(node1, "ov2"), timeout=5, message="ov2 on node1")
    wait_until(lambda: resolves(node1, "a", "b"), timeout=5, message="b to resolve on node1")
    assert pings(node1, "a", "b")
    time.sleep(c.ttl + 1)  # leases were kept through the election
    assert resolves(node2, "b", "a")


def test_watch_relists_after_compaction(cluster):
    c = cluster(nodes=2, ttl=10)
    node1, node2 = c.nodes
    # Cut node2 off etcd (connection refused), and break its open watch.
    node2.sh("nft add table inet cut && nft add chain inet cut out '{ type filter hook output priority 0; }' "
             "&& nft add rule inet cut out tcp dport 2379 reject with tcp reset")
    node2.sh("ss -K dst 10.99.0.201 dport = 2379", check=False)
    node1.berth("network", "create", "-d", "overlay", "--subnet", "10.40.0.0/24", "missed")
    node1.berth("run", "-d", "--name", "a", "--network", "missed", "busybox", "sleep", "600")
    # The revisions node2 would resume from are compacted away.
    c.underlay.etcdctl("compact", str(c.underlay.revision()))
    node2.sh("nft delete table inet cut")
    wait_until(lambda: has_network(node2, "missed"), timeout=15, message="node2 to list again and see the network")
    node2.berth("run", "-d", "--name", "b", "--network", "missed", "busybox", "sleep", "600")
    wait_until(lambda: resolves(node2, "b", "a"), timeout=5, message="a to resolve on node2")
    assert pings(node2, "b", "a")
    assert "fell behind compaction" in node2.log()


def test_cluster_store_over_tls_with_client_certificates(cluster, make_host):
    c = cluster(nodes=2, tls=True)
    node1, node2 = c.nodes
    node1.berth("network", "create", "-d", "overlay", "ov")
    wait_until(lambda: has_network(node2, "ov"), timeout=5, message="the overlay on node2")
    node1.berth("run", "-d", "--name", "a", "--network", "ov", "busybox", "sleep", "600")
    node2.berth("run", "-d", "--name", "b", "--network", "ov", "busybox", "sleep", "600")
    wait_until(lambda: resolves(node2, "b", "a"), timeout=5, message="a to resolve on node2")
    assert pings(node2, "b", "a")
    # Without a client certificate etcd refuses the node: one clear error at start.
    anonymous = make_host(start=False)
    c.underlay.plug(anonymous, 60)
    anonymous.extra_args += ["--cluster-store", c.store, "--cluster-advertise", "10.99.0.60",
                             "--cluster-store-opt", f"kv.cacertfile={c.underlay.tls[0]}"]
    with pytest.raises(AssertionError) as failure:
        anonymous.start()
    assert "cannot reach the cluster store" in str(failure.value)


def test_bad_cluster_settings_are_one_clear_error(cluster, make_host):
    c = cluster(nodes=1)
    node1 = c.nodes[0]

    def start_fails(host, *args):
        host.extra_args += list(args)
        with pytest.raises(AssertionError) as failure:
            host.start()
        return str(failure.value)

    # Nobody listens there.
    lonely = make_host(start=False)
    c.underlay.plug(lonely, 50)
    assert "cannot reach the cluster store" in start_fails(
        lonely, "--cluster-store", "etcd://10.99.0.99:2379", "--cluster-advertise", "10.99.0.50")
    invalid = make_host(start=False)
    assert "invalid --cluster-store" in start_fails(invalid, "--cluster-store", "ftp://x", "--cluster-advertise", "127.0.0.1")
    # Another node already advertises this address.
    twin = make_host(start=False)
    c.underlay.plug(twin, 51)
    twin.sh(f"ip addr add {node1.advertise}/32 dev lo")
    assert "already advertised" in start_fails(twin, "--cluster-store", c.store, "--cluster-advertise", node1.advertise)
    # An address this host does not have.
    stranger = make_host(start=False)
    c.underlay.plug(stranger, 52)
    assert "not an address of this host" in start_fails(
        stranger, "--cluster-store", c.store, "--cluster-advertise", "10.99.0.77")
    # Without a cluster store there are no overlays.
    plain = make_host()
    assert "cluster store" in fails(plain, "network", "create", "-d", "overlay", "ov")
    # A bad overlay subnet changes nothing anywhere.
    node1.berth("network", "create", "--subnet", "10.50.0.0/16", "local")
    assert "overlaps" in fails(node1, "network", "create", "-d", "overlay", "--subnet", "10.50.1.0/24", "ov")
    assert not has_network(node1, "ov")
    assert c.underlay.etcdctl("get", "--prefix", "/berth/v1/network-names/", "--keys-only").stdout.strip() == ""

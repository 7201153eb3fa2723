"""Issue 15, points 3 and 4: no container can speak as another.

A static forger (forger.c, compiled here with gcc -static and bind-mounted read-only)
runs in a busybox container with Docker's default capabilities (NET_RAW) and sends raw
frames through its eth0: IPv4 with a sibling's and an unassigned source, frames with a
sibling's MAC, ARP replies and neighbour advertisements claiming a sibling's address.
With the guard all are dropped and honest traffic passes; on a network made with
`-o berth.network.enable_anti_spoofing=false` the same frames go through, which proves
each check here would catch a guard that let them by.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from harness import BERTH, REPO, fails, wait_until

OPT_OUT = "berth.network.enable_anti_spoofing=false"


@pytest.fixture(scope="module")
def forger_dir():
    directory = tempfile.mkdtemp(prefix="sp-forger-")
    try:
        subprocess.run(["gcc", "-static", "-O2", "-o", os.path.join(directory, "forger"),
                        os.path.join(REPO, "integration", "forger.c")], check=True, capture_output=True, text=True)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_container(host, name, network, forger_dir, *extra):
    host.docker("run", "-d", "--name", name, "--network", network, "-v", f"{forger_dir}:/forge:ro", *extra,
               "busybox", "sleep", "600")
    settings = host.inspect(name)["NetworkSettings"]["Networks"][network]
    return {"name": name, "ip": settings["IPAddress"], "mac": settings["MacAddress"],
            "ip6": settings.get("GlobalIPv6Address") or None}


def counting(host, container, marker, seconds=3):
    """Starts the forger's counter in `container`; returns a function giving the count."""
    process = subprocess.Popen([BERTH, "-H", f"unix://{host.socket}", "exec", container, "/forge/forger", "count",
                                marker, str(seconds)], stdout=subprocess.PIPE, text=True, env=host.env())
    assert process.stdout.readline().strip() == "ready"

    def result():
        out, _ = process.communicate(timeout=seconds + 10)
        return int(out.strip())
    return result


def forge(host, container, *args):
    host.berth("exec", container, "/forge/forger", *args)


def neighbour(host, container, address):
    """The MAC `container` holds for `address` ("" if none)."""
    out = host.berth("exec", container, "ip", "neigh", "show", address).stdout
    found = re.search(r"lladdr ([0-9a-f:]{17})", out)
    return found.group(1) if found else ""


def port_of(host, bridge, mac):
    """The bridge port the bridge's forwarding table has `mac` on."""
    for entry in json.loads(host.sh(f"bridge -j fdb show br {bridge}").stdout):
        if entry.get("mac") == mac:
            return entry.get("ifname")
    return None


def eui64(mac):
    """The link-local address the kernel derives from `mac`."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 2
    groups = [b[0] << 8 | b[1], b[2] << 8 | 0xff, 0xfe << 8 | b[3], b[4] << 8 | b[5]]
    return "fe80::" + ":".join(f"{g:x}" for g in groups)


def guarded_ports(host):
    out = host.sh("nft -j list set bridge berth guarded_ports").stdout
    for item in json.loads(out)["nftables"]:
        if "set" in item:
            return sorted(item["set"].get("elem", []))
    return []


@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "opt-out"])
def test_forged_frames_are_dropped_and_honest_traffic_passes(host, forger_dir, guarded):
    options = [] if guarded else ["-o", OPT_OUT]
    host.berth("network", "create", "--ipv6", "--subnet", "10.77.0.0/24", "--subnet", "fd00:77::/64",
               "-o", "com.docker.network.bridge.name=br-sp", *options, "spnet")
    network = json.loads(host.berth("network", "inspect", "spnet").stdout)[0]
    assert network["Options"].get("berth.network.enable_anti_spoofing") == (None if guarded else "false")
    attacker = run_container(host, "sp-a", "spnet", forger_dir)
    sibling = run_container(host, "sp-b", "spnet", forger_dir, "-p", "8080:80")
    third = run_container(host, "sp-c", "spnet", forger_dir)
    host.berth("exec", "-d", "sp-b", "httpd", "-p", "80", "-h", "/etc")
    gateway = network["IPAM"]["Config"][0]["Gateway"]
    gateway_mac = json.loads(host.sh("ip -j link show br-sp").stdout)[0]["address"]
    assert len(guarded_ports(host)) == (3 if guarded else 0)

    # Honest traffic: ping v4/v6 and by name (DNS at the gateway), link-local v6, TCP,
    # the published port from the host and from a container (hairpin).
    host.berth("exec", "sp-a", "ping", "-c", "1", "-W", "2", "sp-b")
    host.berth("exec", "sp-a", "ping6", "-c", "1", "-W", "2", sibling["ip6"])
    link_local = host.berth("exec", "sp-b", "ip", "-6", "-o", "addr", "show", "eth0", "scope", "link").stdout
    address = re.search(r"inet6 (fe80::[0-9a-f:]+)/64", link_local).group(1)
    assert address == eui64(sibling["mac"])  # what the guard lets it send from
    # Once duplicate address detection has made the link-local addresses usable.
    wait_until(lambda: host.berth("exec", "sp-c", "ping6", "-c", "1", "-W", "1", f"{address}%eth0",
                                  check=False).returncode == 0, timeout=8, message="link-local ping")
    wait_until(lambda: host.berth("exec", "sp-a", "wget", "-qO-", "http://sp-b/hostname", check=False).returncode == 0,
               message="TCP to the sibling")
    assert host.sh("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/hostname").stdout == "200"
    host.berth("exec", "sp-c", "wget", "-qO-", f"http://{gateway}:8080/hostname")

    # (a) IPv4 from a sibling's address and from an unassigned one; own address as control.
    for source, marker in [(attacker["ip"], "sp-honest"), (sibling["ip"], "sp-sibling"), ("10.77.0.99", "sp-unassigned")]:
        count = counting(host, "sp-c", marker)
        forge(host, "sp-a", "udp4", attacker["mac"], third["mac"], source, third["ip"], marker, "5")
        received = count()
        expected_through = marker == "sp-honest" or not guarded
        assert (received > 0) == expected_through, (marker, received)

    # (b) frames from the sibling's MAC (and address) would move its forwarding entry.
    sibling_port = port_of(host, "br-sp", sibling["mac"])
    assert sibling_port and sibling_port == port_of(host, "br-sp", sibling["mac"])
    count = counting(host, "sp-c", "sp-mac")
    forge(host, "sp-a", "udp4", sibling["mac"], third["mac"], sibling["ip"], third["ip"], "sp-mac", "10")
    # Read at once: any frame the sibling sends puts its entry back.
    moved = port_of(host, "br-sp", sibling["mac"])
    assert (count() > 0) == (not guarded)
    if guarded:
        assert moved == sibling_port
        host.berth("exec", "sp-c", "ping", "-c", "1", "-W", "2", sibling["ip"])  # still reaches the sibling
    else:
        assert moved != sibling_port
        # The sibling answers again: its entry comes back for the next tests.
        host.berth("exec", "sp-b", "ping", "-c", "1", "-W", "2", gateway)

    # (c) ARP replies claiming the sibling's IPv4, at the third container and at the host.
    host.berth("exec", "sp-c", "ping", "-c", "1", "-W", "2", sibling["ip"])
    host.sh(f"ping -c 1 -W 2 {sibling['ip']}")
    time.sleep(1.2)  # past the ARP locktime, so an honest update would be taken
    assert neighbour(host, "sp-c", sibling["ip"]) == sibling["mac"]
    forge(host, "sp-a", "arp", attacker["mac"], third["mac"], sibling["ip"], third["ip"], "3")
    forge(host, "sp-a", "arp", attacker["mac"], gateway_mac, sibling["ip"], gateway, "3")
    host_entry = re.search(r"lladdr ([0-9a-f:]{17})", host.sh(f"ip neigh show {sibling['ip']} dev br-sp").stdout)
    if guarded:
        assert neighbour(host, "sp-c", sibling["ip"]) == sibling["mac"]
        assert host_entry and host_entry.group(1) == sibling["mac"]
    else:
        assert neighbour(host, "sp-c", sibling["ip"]) == attacker["mac"]
        assert host_entry and host_entry.group(1) == attacker["mac"]

    # (d) an unsolicited neighbour advertisement for the sibling's IPv6, from the
    # attacker's own address and MAC.
    host.berth("exec", "sp-c", "ping6", "-c", "1", "-W", "2", sibling["ip6"])
    time.sleep(1.2)
    assert neighbour(host, "sp-c", sibling["ip6"]) == sibling["mac"]
    forge(host, "sp-a", "na6", attacker["mac"], "33:33:00:00:00:01", attacker["ip6"], sibling["ip6"], "3")
    assert neighbour(host, "sp-c", sibling["ip6"]) == (sibling["mac"] if guarded else attacker["mac"])

    # The guard's elements go with the containers.
    for name in ("sp-a", "sp-b", "sp-c"):
        host.berth("rm", "-f", name)
    wait_until(lambda: guarded_ports(host) == [], message="guarded ports to be removed")
    host.berth("network", "rm", "spnet")


def test_guard_follows_connect_disconnect_restart_and_default_bridge_flag(host, make_host, forger_dir):
    host.berth("network", "create", "--subnet", "10.78.0.0/24", "sp-one")
    host.berth("network", "create", "--subnet", "10.79.0.0/24", "-o", OPT_OUT, "sp-open")
    attacker = run_container(host, "sp-a", "bridge", forger_dir)
    third = run_container(host, "sp-c", "bridge", forger_dir)
    # The default bridge guards by default: a forged source is dropped.
    count = counting(host, "sp-c", "sp-default")
    forge(host, "sp-a", "udp4", attacker["mac"], third["mac"], "172.17.99.99", third["ip"], "sp-default", "5")
    assert count() == 0
    assert len(guarded_ports(host)) == 2
    host.berth("network", "connect", "sp-one", "sp-a")
    assert len(guarded_ports(host)) == 3
    host.berth("network", "connect", "sp-open", "sp-a")
    assert len(guarded_ports(host)) == 3  # an opt-out network adds none
    # A restarted berthd puts the running containers' ports back.
    host.restart()
    assert len(guarded_ports(host)) == 3
    # Someone else's `nft flush ruleset` takes the guard too; berthd puts it back whole.
    host.sh("nft flush ruleset")
    wait_until(lambda: host.sh("nft list table bridge berth", check=False).returncode == 0
               and len(guarded_ports(host)) == 3, message="the guard to be restored")
    host.berth("network", "disconnect", "sp-one", "sp-a")
    wait_until(lambda: len(guarded_ports(host)) == 2, message="the disconnected port to be unguarded")

    # berth's option namespace is reserved, and the option takes Go's booleans only.
    assert "berth.network.antispoof" in fails(host, "network", "create", "-o", "berth.network.antispoof=false", "x")
    assert "true or false" in fails(host, "network", "create", "-o", "berth.network.enable_anti_spoofing=maybe", "x")

    # berthd --anti-spoofing=false: the default bridge's containers are not guarded.
    open_host = make_host(extra_args=["--anti-spoofing=false"])
    attacker = run_container(open_host, "sp-a", "bridge", forger_dir)
    third = run_container(open_host, "sp-c", "bridge", forger_dir)
    assert guarded_ports(open_host) == []
    bridge = json.loads(open_host.berth("network", "inspect", "bridge").stdout)[0]
    assert bridge["Options"]["berth.network.enable_anti_spoofing"] == "false"
    count = counting(open_host, "sp-c", "sp-default")
    forge(open_host, "sp-a", "udp4", attacker["mac"], third["mac"], "172.17.99.99", third["ip"], "sp-default", "5")
    assert count() > 0


@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "opt-out"])
def test_overlay_endpoints_are_guarded_in_the_overlays_namespace(make_host, forger_dir, guarded):
    """An overlay's containers meet on a bridge in the overlay's own namespace: the guard
    is there, and a forged source does not leave the node for another one."""
    from cluster import Cluster

    cluster = Cluster(make_host, nodes=2)
    try:
        node1, node2 = cluster.nodes
        options = [] if guarded else ["-o", OPT_OUT]
        node1.berth("network", "create", "-d", "overlay", "--subnet", "10.86.0.0/24", *options, "spov")
        wait_until(lambda: "spov" in node2.berth("network", "ls", "--format", "{{.Name}}").stdout.split(),
                   timeout=5, message="the overlay on node2")
        attacker = run_container(node1, "sp-a", "spov", forger_dir)
        sibling = run_container(node1, "sp-b", "spov", forger_dir)
        far = run_container(node2, "sp-c", "spov", forger_dir)
        network_id = json.loads(node1.berth("network", "inspect", "spov").stdout)[0]["Id"]
        namespace = os.path.join(node1.exec_root, "overlays", network_id[:12])
        ports = subprocess.run(["nsenter", f"--net={namespace}", "nft", "-j", "list", "set", "bridge", "berth",
                                "guarded_ports"], capture_output=True, text=True)
        listed = [item["set"].get("elem", []) for item in json.loads(ports.stdout or '{"nftables": []}')["nftables"]
                  if "set" in item] if ports.returncode == 0 else []
        guarded_there = len(listed[0]) if listed else 0
        assert guarded_there == (2 if guarded else 0), ports.stdout + ports.stderr
        # Honest traffic across the nodes.
        wait_until(lambda: node1.berth("exec", "sp-a", "ping", "-c", "1", "-W", "1", far["ip"], check=False).returncode == 0,
                   timeout=10, message="a ping across the overlay")
        for source, marker in [(attacker["ip"], "sp-ov-honest"), (sibling["ip"], "sp-ov-sibling"),
                               ("10.86.0.99", "sp-ov-unassigned")]:
            count = counting(node2, "sp-c", marker)
            forge(node1, "sp-a", "udp4", attacker["mac"], far["mac"], source, far["ip"], marker, "5")
            received = count()
            assert (received > 0) == (marker == "sp-ov-honest" or not guarded), (marker, received)
        # The guard's sockets into the namespace go with the last guarded port there, so
        # the network (and its namespace) can go.
        for name in ("sp-a", "sp-b"):
            node1.berth("rm", "-f", name)
        node2.berth("rm", "-f", "sp-c")
        node1.berth("network", "rm", "spov")
        wait_until(lambda: not os.path.exists(namespace), timeout=5, message="the overlay's namespace to go")
    finally:
        cluster.cleanup()

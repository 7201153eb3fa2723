"""Spare namespaces and the veth pairs made ahead with them for the network of the latest
start: a start takes a pair and it becomes the container's own (MAC, addresses, routes,
IPv6 where the network has it); nothing of them outlives their network, the daemon's stop
or a kill -9."""
import os

from harness import wait_until


def spare_files(host, running=()):
    """Namespace files kept ready (a container started from one keeps its file's name)."""
    taken = {os.path.basename(host.inspect(name)["NetworkSettings"]["SandboxKey"]) for name in running}
    return [f for f in os.listdir(os.path.join(host.exec_root, "netns")) if f.startswith("spare-") and f not in taken]


def bridge_of(host, network):
    status, body = host.api("GET", f"/networks/{network}")
    assert status == 200
    return "br-" + body["Id"][:12]


def spares_on(host, bridge):
    return {l["ifname"] for l in host.spare_ports() if l.get("master") == bridge}


def host_end(host, container):
    """The host end of a container's eth0, by the peer index its inside end reports."""
    index = int(host.berth("exec", container, "cat", "/sys/class/net/eth0/iflink").stdout)
    return [l for l in host.links(spares=True) if l["ifindex"] == index][0]


def test_a_start_takes_a_ready_pair_and_makes_it_the_containers(host):
    host.berth("network", "create", "--subnet", "10.73.0.0/24", "hot")
    bridge = bridge_of(host, "hot")
    host.berth("run", "-d", "--name", "first", "--network", "hot", "busybox", "sleep", "600")
    wait_until(lambda: len(spares_on(host, bridge)) == 4, message="four spare pairs on hot's bridge")
    ready = spares_on(host, bridge)
    host.berth("run", "-d", "--name", "second", "--network", "hot", "busybox", "sleep", "600")
    port = host_end(host, "second")
    assert port["ifname"] in ready
    assert port.get("master") == bridge and "ifalias" not in port and "UP" in port["flags"]
    ip = host.ip_of("second", "hot")
    settings = host.inspect("second")["NetworkSettings"]["Networks"]["hot"]
    assert host.berth("exec", "second", "cat", "/sys/class/net/eth0/address").stdout.strip() == settings["MacAddress"]
    assert f"inet {ip}/24" in host.berth("exec", "second", "ip", "-o", "-4", "addr", "show", "eth0").stdout
    assert "default via 10.73.0.1" in host.berth("exec", "second", "ip", "route").stdout
    # No IPv6 on an IPv4 network, as for an interface made at start.
    assert "inet6" not in host.berth("exec", "second", "ip", "-o", "addr", "show", "eth0").stdout
    host.berth("exec", "second", "ping", "-c", "1", "-W", "2", host.ip_of("first", "hot"))
    host.sh(f"ping -c 1 -W 2 {ip}")
    # Its removal takes the pair with it; the other spares stay.
    host.berth("rm", "-f", "second")
    wait_until(lambda: port["ifname"] not in {l["ifname"] for l in host.links(spares=True)}, message="the pair to go")


def test_a_ready_pair_on_an_ipv6_network_gets_its_link_local_address(host):
    host.berth("network", "create", "--ipv6", "--subnet", "10.74.0.0/24", "--subnet", "fd00:74::/64", "six")
    bridge = bridge_of(host, "six")
    host.berth("run", "-d", "--name", "a", "--network", "six", "busybox", "sleep", "600")
    wait_until(lambda: len(spares_on(host, bridge)) == 4, message="four spare pairs on six's bridge")
    ready = spares_on(host, bridge)
    host.berth("run", "-d", "--name", "b", "--network", "six", "busybox", "sleep", "600")
    assert host_end(host, "b")["ifname"] in ready
    addresses = host.berth("exec", "b", "ip", "-o", "addr", "show", "eth0").stdout
    assert "inet6 fe80::" in addresses
    b6 = host.inspect("b")["NetworkSettings"]["Networks"]["six"]["GlobalIPv6Address"]
    assert f"inet6 {b6}/64" in addresses
    a6 = host.inspect("a")["NetworkSettings"]["Networks"]["six"]["GlobalIPv6Address"]
    host.berth("exec", "b", "ping", "-6", "-c", "1", "-W", "2", a6)


def test_spares_go_with_their_network_and_the_daemon(host):
    host.berth("network", "create", "--subnet", "10.75.0.0/24", "brief")
    bridge = bridge_of(host, "brief")
    host.berth("run", "-d", "--name", "c", "--network", "brief", "busybox", "sleep", "600")
    wait_until(lambda: len(spares_on(host, bridge)) == 4, message="four spare pairs on brief's bridge")
    host.berth("rm", "-f", "c")
    host.berth("network", "rm", "brief")
    assert not host.spare_ports()
    assert not [l for l in host.links(spares=True) if l["ifname"] == bridge]
    assert len(spare_files(host)) == 4  # the bare ones
    # A start on the default bridge makes pairs there; a kill -9 leaves them, the next
    # start of the daemon removes them before it answers.
    host.berth("run", "-d", "--name", "d", "busybox", "sleep", "600")
    wait_until(lambda: len(spares_on(host, "berth0")) == 4, message="four spare pairs on berth0")
    before = spares_on(host, "berth0")
    host.kill9()
    host.start()
    assert not before & {l["ifname"] for l in host.links(spares=True)}
    gateway = host.inspect("d")["NetworkSettings"]["Networks"]["bridge"]["Gateway"]
    host.berth("exec", "d", "ping", "-c", "1", "-W", "2", gateway)
    # A clean stop removes every spare: namespaces and pairs.
    host.berth("run", "-d", "--name", "e", "busybox", "sleep", "600")
    wait_until(lambda: len(spares_on(host, "berth0")) == 4, message="four spare pairs on berth0 again")
    assert len(spare_files(host, running=("d", "e"))) == 8
    keys = {name: host.inspect(name)["NetworkSettings"]["SandboxKey"] for name in ("d", "e")}
    host.stop()
    # The pairs go with their namespaces, which the kernel removes right after.
    wait_until(lambda: not host.spare_ports(), timeout=5, message="the spare pairs to go")
    left = set(os.listdir(os.path.join(host.exec_root, "netns")))
    assert left <= {os.path.basename(k) for k in keys.values()}
    # The running containers kept theirs.
    for key in keys.values():
        host.sh(f"nsenter --net={key} ip -o link show eth0")

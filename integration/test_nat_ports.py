"""Issue 4: the way out and the way in, on nftables. Every "machine" is a namespace the
test makes: the host (berthd inside), and an outside namespace that is both the LAN
client (198.51.100.2) and "the internet" (203.0.113.10)."""
import json
import os
import subprocess
import sys
import time

import pytest

from harness import HOST_IP, INTERNET, LAN_IP, fails, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = [sys.executable, os.path.join(HERE, "peer_server.py")]
CLIENT = [sys.executable, os.path.join(HERE, "peer_client.py")]


def ask(netns, kind, address, port, check=True):
    """What the peer server at address:port says about us, asked from `netns`."""
    result = subprocess.run(["ip", "netns", "exec", netns, *CLIENT, kind, address, str(port)],
                            capture_output=True, text=True, timeout=15)
    if check:
        assert result.returncode == 0, result.stderr
    return result.stdout.strip() if result.returncode == 0 else None


def serve_in_container(host, name, kind, port):
    """The peer server inside a running container's network namespace."""
    sandbox = host.inspect(name)["NetworkSettings"]["SandboxKey"]
    process = subprocess.Popen(["nsenter", f"--net={sandbox}", *SERVER, kind, "0.0.0.0", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    host.helpers.append(process)
    wait_until(lambda: f":{port}" in subprocess.run(["nsenter", f"--net={sandbox}", "ss", "-lntu"],
                                                   capture_output=True, text=True).stdout,
               message=f"{kind} server in {name}")


def sleeper(host, name, *args):
    host.berth("run", "-d", "--name", name, *args, "busybox", "sleep", "600")


def berth_table(host):
    result = host.sh("nft -j list table inet berth", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def elements(host):
    """Set and map elements of berth's table, by set name."""
    table = berth_table(host)
    found = {}
    for item in (table or {}).get("nftables", []):
        for kind in ("set", "map"):
            if kind in item:
                found[item[kind]["name"]] = item[kind].get("elem", [])
    return found


@pytest.fixture
def world(make_host):
    host = make_host()
    outside = host.add_outside()
    return host, outside


@pytest.fixture(params=["br_netfilter", "no_br_netfilter"])
def any_world(request, make_host):
    """Both ways bridged traffic can be: seen by the IP hooks or not (the sysctl is the
    test host namespace's own)."""
    host = make_host(start=False)
    value = "1" if request.param == "br_netfilter" else "0"
    host.sh(f"echo {value} > /proc/sys/net/bridge/bridge-nf-call-iptables")
    host.start()
    host.import_busybox()
    outside = host.add_outside()
    return host, outside


def test_outbound_is_masqueraded_and_internal_networks_stay_in(world):
    host, outside = world
    host.background_in(outside, [*SERVER, "tcp", INTERNET, "8000"])
    wait_until(lambda: "8000" in subprocess.run(["ip", "netns", "exec", outside, "ss", "-lnt"],
                                                capture_output=True, text=True).stdout, message="internet server")
    sleeper(host, "out")
    reply = host.berth("exec", "out", "nc", INTERNET, "8000").stdout.strip()
    assert reply == f"peer={HOST_IP}"

    host.berth("network", "create", "--internal", "--subnet", "10.71.0.0/24", "sealed")
    sleeper(host, "inside", "--network", "sealed")
    assert host.berth("exec", "inside", "ip", "route").stdout.strip().splitlines() == [
        "10.71.0.0/24 dev eth0 scope link  src " + host.ip_of("inside", "sealed")]
    blocked = host.berth("exec", "inside", "nc", "-w", "2", INTERNET, "8000", check=False)
    assert blocked.returncode != 0 and "peer=" not in blocked.stdout
    # Even with a route added by hand inside, the host does not forward it.
    sandbox = host.inspect("inside")["NetworkSettings"]["SandboxKey"]
    subprocess.run(["nsenter", f"--net={sandbox}", "ip", "route", "add", "default", "via", "10.71.0.1"], check=True)
    blocked = host.berth("exec", "inside", "nc", "-w", "2", INTERNET, "8000", check=False)
    assert "peer=" not in blocked.stdout

    # Masquerade off for one network: the server sees the container's own address
    # (the outside namespace is given a route back to that subnet).
    host.berth("network", "create", "--subnet", "10.72.0.0/24", "-o",
               "com.docker.network.bridge.enable_ip_masquerade=false", "plain")
    subprocess.run(["ip", "netns", "exec", outside, "ip", "route", "add", "10.72.0.0/24", "via", HOST_IP], check=True)
    sleeper(host, "unmasked", "--network", "plain")
    reply = host.berth("exec", "unmasked", "nc", INTERNET, "8000").stdout.strip()
    assert reply == f"peer={host.ip_of('unmasked', 'plain')}"
    assert "network" in fails(host, "network", "create", "-o", "com.docker.network.bridge.enable_icc=maybe", "bad")


def test_published_ports_from_lan_host_and_hairpin(any_world):
    host, outside = any_world
    host.berth("run", "-d", "--name", "web", "-p", "8080:80", "-p", "5353:53/udp", "busybox",
               "sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www")
    web_ip = host.ip_of("web")
    # A real server in the container, reached from the LAN through the host's address.
    page = subprocess.run(["ip", "netns", "exec", outside, "curl", "-s", "--max-time", "5", f"http://{HOST_IP}:8080/"],
                          capture_output=True, text=True)
    assert page.stdout.strip() == "hello-from-web"
    # From the host itself: loopback, localhost and its own address.
    for address in ["127.0.0.1", "localhost", HOST_IP]:
        assert host.sh(f"curl -s --max-time 5 http://{address}:8080/").stdout.strip() == "hello-from-web", address

    # The server sees the LAN client's real address, over TCP and UDP.
    host.berth("run", "-d", "--name", "peer", "-p", "9000:7000", "-p", "9000:7000/udp", "busybox", "sleep", "600")
    serve_in_container(host, "peer", "tcp", 7000)
    serve_in_container(host, "peer", "udp", 7000)
    assert ask(outside, "tcp", HOST_IP, 9000) == f"peer={LAN_IP}"
    assert ask(outside, "udp", HOST_IP, 9000) == f"peer={LAN_IP}"

    # Hairpin: a sibling container through the host's address.
    sleeper(host, "sibling")
    reply = host.berth("exec", "sibling", "nc", HOST_IP, "9000").stdout.strip()
    bridged = host.sh("cat /proc/sys/net/bridge/bridge-nf-call-iptables", check=False).stdout.strip() == "1"
    gateway = host.inspect("sibling")["NetworkSettings"]["Networks"]["bridge"]["Gateway"]
    assert reply == f"peer={host.ip_of('sibling') if bridged else gateway}"
    assert host.berth("exec", "sibling", "wget", "-qO-", f"http://{HOST_IP}:8080/").stdout.strip() == "hello-from-web"

    # What the port commands and the Docker API say.
    assert sorted(host.berth("port", "web").stdout.strip().splitlines()) == [
        "53/udp -> 0.0.0.0:5353", "80/tcp -> 0.0.0.0:8080"]
    assert host.docker("port", "web", "80").stdout.strip() == "0.0.0.0:8080"
    listed = json.loads(host.docker("ps", "--format", "{{json .}}", "--filter", "name=web").stdout.splitlines()[0])
    assert "0.0.0.0:8080->80/tcp" in listed["Ports"]
    assert web_ip != HOST_IP


def test_ranges_random_ports_and_ipv6_host_address(world):
    host, outside = world
    host.berth("run", "-d", "--name", "ranged", "-p", "9100-9102:7100-7102", "-p", "7200", "busybox", "sleep", "600")
    for port in (7100, 7101, 7102, 7200):
        serve_in_container(host, "ranged", "tcp", port)
    for host_port in (9100, 9101, 9102):
        assert ask(outside, "tcp", HOST_IP, host_port) == f"peer={LAN_IP}"
    chosen = host.docker("port", "ranged", "7200/tcp").stdout.strip()
    low, high = map(int, host.sh("cat /proc/sys/net/ipv4/ip_local_port_range").stdout.split())
    port = int(chosen.rsplit(":", 1)[1])
    assert low <= port <= high and chosen.startswith("0.0.0.0:")
    assert ask(outside, "tcp", HOST_IP, port) == f"peer={LAN_IP}"

    # An IPv6 host address publishes to the container's IPv6 address.
    host.sh("ip addr add 2001:db8:99::1/64 dev uplink nodad")
    subprocess.run(["ip", "netns", "exec", outside, "ip", "addr", "add", "2001:db8:99::2/64", "dev", "lan", "nodad"], check=True)
    host.berth("network", "create", "--ipv6", "--subnet", "10.73.0.0/24", "--subnet", "fd00:73::/64", "dual")
    host.berth("run", "-d", "--name", "six", "--network", "dual", "-p", "[2001:db8:99::1]:9200:7300", "busybox", "sleep", "600")
    sandbox = host.inspect("six")["NetworkSettings"]["SandboxKey"]
    process = subprocess.Popen(["nsenter", f"--net={sandbox}", *SERVER, "tcp", "::", "7300"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    host.helpers.append(process)
    time.sleep(0.5)
    assert ask(outside, "tcp", "2001:db8:99::1", 9200) == "peer=2001:db8:99::2"
    assert host.berth("port", "six").stdout.strip() == "7300/tcp -> [2001:db8:99::1]:9200"


def test_bad_ports_are_refused_and_change_nothing(world):
    host, outside = world
    host.berth("run", "-d", "--name", "first", "-p", "8080:80", "busybox", "sleep", "600")
    before = elements(host)
    line = fails(host, "run", "-d", "--name", "second", "-p", "8080:80", "busybox", "sleep", "600")
    assert "port is already allocated" in line
    assert json.loads(host.berth("inspect", "second").stdout)[0]["State"]["Running"] is False
    # A program on the host holding a port.
    host.background([sys.executable, "-c",
                     "import socket,time; s=socket.socket(); s.bind(('0.0.0.0', 9090)); s.listen(); time.sleep(600)"])
    wait_until(lambda: ":9090" in host.sh("ss -lnt").stdout, message="host listener")
    assert "address already in use" in fails(host, "run", "-d", "--name", "third", "-p", "9090:80", "busybox", "true")
    assert "not an address of this host" in fails(host, "run", "-d", "--name", "fourth", "-p", "10.9.9.9:8081:80", "busybox", "true")
    for spec in ["0:80", "70000:80", "8080:0", "abc", "8080:80/sctp", "1-5:1-3"]:
        fails(host, "run", "-d", "-p", spec, "busybox", "true")
    # The same through the API: refused at create with 400.
    status, body = host.api("POST", "/v1.47/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}})
    assert status == 400 and "invalid port" in body["message"]
    assert elements(host) == before
    # Nothing leaked from the failed starts: only the first container's address is in use.
    assert [c["Names"] for c in host.api("GET", "/containers/json")[1]] == [["/first"]]


def test_networks_are_isolated_and_icc_off_blocks_within(any_world):
    host, outside = any_world
    host.berth("network", "create", "--subnet", "10.74.0.0/24", "n1")
    host.berth("network", "create", "--subnet", "10.75.0.0/24", "n2")
    sleeper(host, "a", "--network", "n1")
    sleeper(host, "b", "--network", "n2")
    sleeper(host, "both", "--network", "n1")
    host.berth("network", "connect", "n2", "both")
    a, b = host.ip_of("a", "n1"), host.ip_of("b", "n2")
    assert host.berth("exec", "a", "ping", "-c", "1", "-W", "1", b, check=False).returncode != 0
    assert host.berth("exec", "b", "ping", "-c", "1", "-W", "1", a, check=False).returncode != 0
    host.berth("exec", "both", "ping", "-c", "1", "-W", "2", a)
    host.berth("exec", "both", "ping", "-c", "1", "-W", "2", b)
    # The default bridge is walled off from user networks too.
    sleeper(host, "default")
    assert host.berth("exec", "default", "ping", "-c", "1", "-W", "1", a, check=False).returncode != 0

    host.berth("network", "create", "--subnet", "10.76.0.0/24", "-o", "com.docker.network.bridge.enable_icc=false", "quiet")
    sleeper(host, "x", "--network", "quiet")
    host.berth("run", "-d", "--name", "y", "--network", "quiet", "-p", "9300:7400", "busybox", "sleep", "600")
    serve_in_container(host, "y", "tcp", 7400)
    y = host.ip_of("y", "quiet")
    assert host.berth("exec", "x", "ping", "-c", "1", "-W", "1", y, check=False).returncode != 0
    assert host.berth("exec", "x", "nc", "-w", "2", y, "7400", check=False).stdout.strip() == ""
    # Published ports still work within an icc=false network, and its gateway answers.
    assert host.berth("exec", "x", "nc", "-w", "3", HOST_IP, "9300").stdout.startswith("peer=")
    host.berth("exec", "x", "ping", "-c", "1", "-W", "2", "10.76.0.1")


def test_rules_survive_restart_and_flush_and_leave_nothing(world):
    host, outside = world
    host.berth("run", "-d", "--name", "kept", "-p", "9400:7500", "busybox", "sleep", "600")
    serve_in_container(host, "kept", "tcp", 7500)
    assert ask(outside, "tcp", HOST_IP, 9400) == f"peer={LAN_IP}"
    host.restart()
    assert ask(outside, "tcp", HOST_IP, 9400) == f"peer={LAN_IP}"
    host.kill9()
    host.start()
    assert ask(outside, "tcp", HOST_IP, 9400) == f"peer={LAN_IP}"
    assert "port is already allocated" in fails(host, "run", "-d", "-p", "9400:80", "busybox", "true")
    # The port is held again after the restart: no other program can take it.
    assert host.sh(f"{sys.executable} -c \"import socket; socket.socket().bind(('0.0.0.0', 9400))\"", check=False).returncode != 0

    restores = lambda: host.log().count("restored berth's nftables rules")
    before = restores()
    host.sh("nft flush ruleset")
    wait_until(lambda: berth_table(host) is not None, timeout=5, message="berth's table to come back")
    assert ask(outside, "tcp", HOST_IP, 9400) == f"peer={LAN_IP}"
    # One flush, one restore: berth's own restore must not look like someone else's change
    # (the kernel names the sending thread, not the process) and set off the next one.
    time.sleep(1.5)
    assert restores() == before + 1, f"{restores() - before} restores after one flush"
    before += 1
    for _ in range(3):
        host.sh("nft flush ruleset")
        wait_until(lambda: berth_table(host) is not None, timeout=5, message="berth's table to come back")
    time.sleep(1.5)
    assert restores() == before + 3

    # Another program's table is never touched.
    host.sh("nft add table ip theirs && nft add chain ip theirs c")
    host.berth("network", "create", "--subnet", "10.77.0.0/24", "extra")
    host.berth("rm", "-f", "kept")
    host.berth("network", "rm", "extra")
    left = elements(host)
    bridge_only = {name: elems for name, elems in left.items() if elems}
    assert set(bridge_only) == {"bridges", "own_bridge", "masquerade_bridges"}  # the default bridge only
    assert ask(outside, "tcp", HOST_IP, 9400, check=False) is None
    host.stop()
    host.extra_args.append("--cleanup")
    host.start()
    host.stop()
    assert berth_table(host) is None
    assert host.sh("nft list table ip theirs", check=False).returncode == 0


def test_daemon_wide_ip_masq_off(make_host):
    host = make_host(extra_args=["--ip-masq=false"])
    outside = host.add_outside()
    host.background_in(outside, [*SERVER, "tcp", INTERNET, "8000"])
    wait_until(lambda: "8000" in subprocess.run(["ip", "netns", "exec", outside, "ss", "-lnt"],
                                                capture_output=True, text=True).stdout, message="internet server")
    subnet = json.loads(host.berth("network", "inspect", "bridge").stdout)[0]["IPAM"]["Config"][0]["Subnet"]
    subprocess.run(["ip", "netns", "exec", outside, "ip", "route", "add", subnet, "via", HOST_IP], check=True)
    sleeper(host, "raw")
    reply = host.berth("exec", "raw", "nc", INTERNET, "8000").stdout.strip()
    assert reply == f"peer={host.ip_of('raw')}"
    assert elements(host).get("masquerade_bridges") == []

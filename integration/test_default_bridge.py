"""Issue 2: containers on the default bridge, host/none/container modes, cleanup."""
import json
import os

from harness import wait_until


def run_sleeper(host, name, *extra):
    host.berth("run", "-d", "--name", name, *extra, "busybox", "sleep", "600")


def test_bridge_containers_reach_each_other_by_ip_only(host):
    run_sleeper(host, "a")
    run_sleeper(host, "b")
    ip_a, ip_b = host.ip_of("a"), host.ip_of("b")
    assert ip_a != ip_b
    network = json.loads(host.berth("network", "inspect", "bridge").stdout)[0]
    subnet = network["IPAM"]["Config"][0]["Subnet"]
    assert subnet == "172.17.0.0/16"  # first pool, nothing on the test host overlaps it
    assert ip_a.startswith("172.17.") and ip_b.startswith("172.17.")
    # Each in its own namespace, eth0 on the bridge, reaching the other by IP.
    out = host.berth("exec", "a", "ping", "-c", "1", "-W", "2", ip_b).stdout
    assert "1 packets received" in out
    host.berth("exec", "b", "ping", "-c", "1", "-W", "2", ip_a)
    # Names do not resolve on the default bridge.
    assert host.berth("exec", "a", "ping", "-c", "1", "-W", "1", "b", check=False).returncode != 0
    assert host.berth("exec", "a", "nslookup", "b", check=False).returncode != 0
    # The container's view: eth0 with its address and a default route via the gateway.
    addr = host.berth("exec", "a", "ip", "-4", "addr", "show", "eth0").stdout
    assert ip_a + "/16" in addr
    route = host.berth("exec", "a", "ip", "route").stdout
    assert "default via 172.17.0.1 dev eth0" in route
    # Host side: two veths enslaved to berth0.
    bridge_ports = [l for l in host.links() if l.get("master") == "berth0"]
    assert len(bridge_ports) == 2
    # /etc/hosts, /etc/hostname and /etc/resolv.conf are berth's.
    hosts = host.berth("exec", "a", "cat", "/etc/hosts").stdout
    assert ip_a in hosts
    assert host.berth("exec", "a", "cat", "/etc/resolv.conf").stdout.strip() == "nameserver 192.0.2.53"
    cid = host.inspect("a")["Id"]
    assert host.berth("exec", "a", "hostname").stdout.strip() == cid[:12]


def test_container_gets_own_namespaces_and_hostname(host):
    host.berth("run", "-d", "--name", "h", "--hostname", "web1", "-e", "GREETING=hi", "busybox", "sleep", "600")
    assert host.berth("exec", "h", "hostname").stdout.strip() == "web1"
    assert "GREETING=hi" in host.berth("exec", "h", "env").stdout
    # PID namespace: the container's init is pid 1.
    assert host.berth("exec", "h", "cat", "/proc/1/cmdline").stdout.startswith("sleep")
    pid = host.inspect("h")["State"]["Pid"]
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")


def test_run_in_foreground_prints_output_and_exit_code(host):
    result = host.berth("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert result.returncode == 3
    assert "out" in result.stdout
    assert host.berth("ps", "-a", "-q").stdout.strip() == ""
    host.berth("run", "--name", "once", "busybox", "echo", "hello")
    assert "hello" in host.berth("logs", "once").stdout
    state = host.inspect("once")["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 0


def test_host_mode_shares_the_host_namespace(host):
    run_sleeper(host, "hm", "--network", "host")
    pid = host.inspect("hm")["State"]["Pid"]
    daemon_pid = host.daemon.pid
    assert os.readlink(f"/proc/{pid}/ns/net") == os.readlink(f"/proc/{daemon_pid}/ns/net")
    links = host.berth("exec", "hm", "cat", "/proc/net/dev").stdout
    assert "berth0" in links
    assert not [l for l in host.links() if l.get("master") == "berth0"]


def test_none_mode_has_only_loopback_up(host):
    run_sleeper(host, "nm", "--network", "none")
    out = host.berth("exec", "nm", "ip", "-o", "link").stdout
    names = [line.split(":")[1].strip() for line in out.strip().splitlines()]
    assert names == ["lo"]
    assert "UP" in host.berth("exec", "nm", "ip", "link", "show", "lo").stdout
    before = loopback_packets_received(host, "nm")
    host.berth("exec", "nm", "ping", "-c", "1", "-W", "1", "127.0.0.1")
    # Request and reply crossed the container's own loopback, not some other namespace's.
    assert loopback_packets_received(host, "nm") - before >= 2


def loopback_packets_received(host, container):
    """lo's received-packet counter in the container's network namespace (/proc/net/dev is per namespace)."""
    for line in host.berth("exec", container, "cat", "/proc/net/dev").stdout.splitlines():
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            return int(counters.split()[1])
    raise AssertionError("no lo in the container's /proc/net/dev")


def test_container_mode_joins_a_running_container(host):
    run_sleeper(host, "base")
    run_sleeper(host, "side", "--network", "container:base")
    base_pid = host.inspect("base")["State"]["Pid"]
    side_pid = host.inspect("side")["State"]["Pid"]
    assert os.readlink(f"/proc/{base_pid}/ns/net") == os.readlink(f"/proc/{side_pid}/ns/net")
    ip = host.ip_of("base")
    assert ip in host.berth("exec", "side", "ip", "-4", "addr", "show", "eth0").stdout
    # A stopped container cannot be joined.
    host.berth("create", "--name", "idle", "busybox", "sleep", "1")
    result = host.berth("run", "-d", "--network", "container:idle", "busybox", "sleep", "5", check=False)
    assert result.returncode != 0
    assert "not running" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_rm_frees_address_veth_and_namespace(make_host):
    host = make_host(bip="10.99.0.1/29")  # room for five containers: .2 to .6
    names = [f"c{i}" for i in range(5)]
    for name in names:
        run_sleeper(host, name)
    result = host.berth("run", "-d", "--name", "extra", "busybox", "sleep", "60", check=False)
    assert result.returncode != 0 and "no free address" in result.stderr
    assert "extra" in host.berth("ps", "-a", "--format", "{{.Names}}").stdout  # created, not started
    host.berth("rm", "extra")
    freed = host.ip_of("c2")
    sandbox = host.inspect("c2")["NetworkSettings"]["SandboxKey"]
    assert os.path.exists(sandbox)
    host.berth("rm", "-f", "c2")
    assert not os.path.exists(sandbox)
    # The veth goes in the background; its address is handed out again only after.
    wait_until(lambda: len([l for l in host.links() if l.get("master") == "berth0"]) == 4, message="c2's veth to go")
    run_sleeper(host, "again")
    assert host.ip_of("again") == freed
    keys = [host.inspect(n)["NetworkSettings"]["SandboxKey"] for n in ["c0", "c1", "c3", "c4", "again"]]
    for name in ["c0", "c1", "c3", "c4", "again"]:
        host.berth("rm", "-f", name)
    assert not any(os.path.exists(k) for k in keys)
    wait_until(lambda: not [l for l in host.links() if l.get("master") == "berth0"], message="veths to go")
    assert host.berth("ps", "-aq").stdout.strip() == ""
    # Only the daemon's spare namespaces remain: 4 bare, 4 with a pair on berth0.
    assert len(os.listdir(os.path.join(host.exec_root, "netns"))) <= 8
    assert len(host.spare_ports()) <= 4


def test_stop_tears_down_network_and_start_brings_it_back(host):
    run_sleeper(host, "s")
    host.berth("stop", "-t", "1", "s")
    state = host.inspect("s")["State"]
    assert state["Status"] == "exited"
    wait_until(lambda: not [l for l in host.links() if l.get("master") == "berth0"], message="the veth to go")
    host.berth("start", "s")
    ip = host.ip_of("s")
    host.sh(f"ping -c 1 -W 2 {ip}")

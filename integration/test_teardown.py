"""Detach: stop, rm and disconnect return before the kernel has deleted the veths; the
rest runs in the background and leaks nothing, also across a kill -9 of berthd, and an
address is handed out again only once its interfaces are gone."""
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

from harness import wait_until


def ports(host, bridge):
    return sorted(l["ifname"] for l in host.links() if l.get("master") == bridge)


def netns_files(host):
    return sorted(os.listdir(os.path.join(host.exec_root, "netns")))


def test_many_quick_removals_leak_nothing_and_addresses_are_reused(host):
    # 13 usable addresses (a /28 less network, gateway, broadcast): all in use, so reuse is forced.
    host.berth("network", "create", "--subnet", "10.70.0.0/28", "small")
    bridge = [l["ifname"] for l in host.links() if l["ifname"].startswith("br-")][0]
    names = [f"c{i}" for i in range(13)]
    for name in names:
        host.berth("run", "-d", "--name", name, "--network", "small", "busybox", "sleep", "600")
    keys = [host.inspect(n)["NetworkSettings"]["SandboxKey"] for n in names]
    used = {host.ip_of(n, "small") for n in names}
    assert len(used) == 13 and len(ports(host, bridge)) == 13
    fixed = host.ip_of("c0", "small")
    # Half stopped, half removed, all at once.
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: host.berth("stop", "-t", "0", n) if n in names[:6] else host.berth("rm", "-f", n), names))
    # Gone for the caller at once: no sandbox file, not resolvable, not listed as running.
    assert not any(os.path.exists(k) for k in keys)
    assert host.berth("ps", "-q").stdout.strip() == ""
    wait_until(lambda: ports(host, bridge) == [], timeout=10, message="every veth to go")
    assert not [f for f in netns_files(host) if not f.startswith("spare-")]
    # No container address is left on the host side.
    assert "10.70.0.1/28" in host.sh(f"ip -4 -o addr show dev {bridge}").stdout
    assert not [a for a in host.sh("ip -4 -o addr").stdout.splitlines() if "10.70.0." in a and bridge not in a]
    # Every address can be taken again, the fixed one straight after its holder is removed.
    host.berth("rm", *names[:6])
    host.berth("run", "-d", "--name", "fixed", "--network", "small", "--ip", fixed, "busybox", "sleep", "600")
    assert host.ip_of("fixed", "small") == fixed
    host.berth("rm", "-f", "fixed")
    host.berth("run", "-d", "--name", "fixed2", "--network", "small", "--ip", fixed, "busybox", "sleep", "600")
    again = [f"d{i}" for i in range(12)]
    for name in again:
        host.berth("run", "-d", "--name", name, "--network", "small", "busybox", "sleep", "600")
    assert len({host.ip_of(n, "small") for n in again + ["fixed2"]}) == 13
    host.berth("exec", "d0", "ping", "-c", "1", "-W", "2", host.ip_of("d11", "small"))
    # Quick disconnects of a running container leak nothing either.
    host.berth("network", "create", "--subnet", "10.71.0.0/28", "side")
    side = [l["ifname"] for l in host.links() if l["ifname"].startswith("br-") and l["ifname"] != bridge][0]
    for _ in range(5):
        host.berth("network", "connect", "side", "d0")
        host.berth("network", "disconnect", "side", "d0")
    # Through the API, a connect comes within milliseconds of the disconnect, while the
    # old interface is still being deleted.
    for _ in range(5):
        assert host.api("POST", "/networks/side/connect", {"Container": "d0"})[0] == 200
        assert host.api("POST", "/networks/side/disconnect", {"Container": "d0"})[0] == 200
    wait_until(lambda: ports(host, side) == [], message="disconnected veths to go")
    # A network can be removed right after its last container.
    host.berth("rm", "-f", *again, "fixed2")
    host.berth("network", "rm", "small")
    assert bridge not in [l["ifname"] for l in host.links()]
    assert not [l for l in host.links() if l.get("ifname", "").startswith("veth")]


def test_kill9_during_background_teardown_is_finished_at_restart(host):
    host.berth("network", "create", "--subnet", "10.72.0.0/28", "k")
    bridge = [l["ifname"] for l in host.links() if l["ifname"].startswith("br-")][0]
    for name in ("a", "b", "c"):
        host.berth("run", "-d", "--name", name, "--network", "k", "busybox", "sleep", "600")
    ips = {n: host.ip_of(n, "k") for n in ("a", "b")}
    keys = [host.inspect(n)["NetworkSettings"]["SandboxKey"] for n in ("a", "b")]
    # Something outside berth holds a's and b's namespaces open, so their veths outlive the
    # unmount and the background teardown is certainly still waiting when berthd dies.
    holders = [subprocess.Popen(["nsenter", f"--net={k}", "sleep", "60"]) for k in keys]
    try:
        host.berth("rm", "-f", "a")
        host.berth("stop", "-t", "0", "b")
        assert len(ports(host, bridge)) == 3   # teardown in progress: veths still there
        host.kill9()
        host.start()
        # Reconciliation finished the teardown before the API answered.
        assert len(ports(host, bridge)) == 1
        assert not any(os.path.exists(k) for k in keys)
        assert host.inspect("c")["State"]["Running"]
        # Their addresses are free again and work.
        host.berth("run", "-d", "--name", "a2", "--network", "k", "--ip", ips["a"], "busybox", "sleep", "600")
        host.berth("start", "b")
        host.berth("exec", "a2", "ping", "-c", "1", "-W", "2", host.ip_of("c", "k"))
        assert len(ports(host, bridge)) == 3
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()

"""Safety defect 9: networks stay apart while berth's nftables table is gone (`nft flush
ruleset` until berthd puts it back, or berthd frozen). The second layer is policy
routing: per network, `iif <bridge>` rules into a table of berth's holding a `prohibit`
route per network subnet. Everything happens in the test host's namespace."""
import json
import os
import signal
import subprocess
import sys
import time

from harness import run, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = [sys.executable, os.path.join(HERE, "peer_server.py")]
# Must match Sources/Drivers/IsolationRules.swift.
TABLE = 0x62657274
PRIORITIES = (30100, 30101)
PROTOCOL = 98
PORT = 7700

# Connection attempts from inside a container's namespace: prints how many reached the
# server. Each attempt is a fresh TCP connect with a short timeout, spread over the window.
PROBE = r"""
import socket, sys, time
address, port, count, spacing = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
family = socket.AF_INET6 if ":" in address else socket.AF_INET
reached = 0
for _ in range(count):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(0.05)
    try:
        s.connect((address, port))
        reached += 1
    except OSError:
        pass
    finally:
        s.close()
    time.sleep(spacing)
print(reached)
"""


def sandbox(host, name):
    """The container's namespace file; remembered, so it can be found while berthd is frozen."""
    keys = host.__dict__.setdefault("sandbox_keys", {})
    if name not in keys:
        keys[name] = host.inspect(name)["NetworkSettings"]["SandboxKey"]
    return keys[name]


def serve(host, name, port=PORT, address="0.0.0.0"):
    key = sandbox(host, name)
    process = subprocess.Popen(["nsenter", f"--net={key}", *SERVER, "tcp", address, str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    host.helpers.append(process)
    wait_until(lambda: f":{port}" in subprocess.run(["nsenter", f"--net={key}", "ss", "-lnt"],
                                                   capture_output=True, text=True).stdout,
               message=f"server in {name}")


def probe(host, name, address, count=60, spacing=0.01, port=PORT):
    """Starts connection attempts from container `name`; returns the process (stdout: reached)."""
    process = subprocess.Popen(["nsenter", f"--net={sandbox(host, name)}", sys.executable, "-c", PROBE,
                                address, str(port), str(count), str(spacing)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    host.helpers.append(process)
    return process


def reached(process):
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return int(out.strip())


def berth_table_present(host):
    return host.sh("nft list table inet berth", check=False).returncode == 0


def rules(host):
    """All policy routing rules of the host namespace, both families."""
    found = []
    for family in ("-4", "-6"):
        found += json.loads(host.sh(f"ip -j -d {family} rule show").stdout or "[]")
    return found


def berth_rules(host):
    return [r for r in rules(host) if r.get("priority") in PRIORITIES]


def isolation_routes(host):
    found = []
    for family in ("-4", "-6"):
        found += json.loads(host.sh(f"ip -j {family} route show table {TABLE}", check=False).stdout or "[]")
    return found


def bridge_of(host, network):
    return "br-" + json.loads(host.berth("network", "inspect", network).stdout)[0]["Id"][:12]


def two_networks(host, ipv6=False):
    extra_a = ["--ipv6", "--subnet", "fd00:81::/64"] if ipv6 else []
    extra_b = ["--ipv6", "--subnet", "fd00:82::/64"] if ipv6 else []
    host.berth("network", "create", "--subnet", "10.81.0.0/24", *extra_a, "neta")
    host.berth("network", "create", "--subnet", "10.82.0.0/24", *extra_b, "netb")
    for name, network in [("ca", "neta"), ("cb", "netb"), ("cb2", "netb"), ("c0", "bridge")]:
        host.berth("run", "-d", "--name", name, "--network", network, "busybox", "sleep", "600")
    serve(host, "cb")


def test_twenty_flushes_let_nothing_cross(host):
    two_networks(host)
    target = host.ip_of("cb", "netb")
    # The server is reachable within its network, so the probe can count a crossing.
    assert reached(probe(host, "cb2", target, count=5)) == 5
    crossings = 0
    restore_ms = []
    for _ in range(20):
        clients = [probe(host, "ca", target, count=60, spacing=0.01),
                   probe(host, "c0", target, count=60, spacing=0.01)]
        time.sleep(0.1)
        flushed = time.monotonic()
        host.sh("nft flush ruleset")
        wait_until(lambda: berth_table_present(host), timeout=5, interval=0.005, message="berth's table back")
        restore_ms.append((time.monotonic() - flushed) * 1000)
        crossings += sum(reached(client) for client in clients)
    assert crossings == 0, f"{crossings} connections crossed networks (restores took {restore_ms} ms)"
    assert reached(probe(host, "cb2", target, count=5)) == 5


def test_frozen_daemon_flushed_still_isolates(host):
    two_networks(host, ipv6=True)
    target = host.ip_of("cb", "netb")
    target6 = host.inspect("cb")["NetworkSettings"]["Networks"]["netb"]["GlobalIPv6Address"]
    serve(host, "cb", port=PORT + 1, address="::")
    gateway = host.inspect("ca")["NetworkSettings"]["Networks"]["neta"]["Gateway"]
    for name in ("ca", "cb2", "c0"):
        sandbox(host, name)
    host.daemon.send_signal(signal.SIGSTOP)
    try:
        host.sh("nft flush ruleset")
        assert not berth_table_present(host)
        assert reached(probe(host, "ca", target, count=20)) == 0
        assert reached(probe(host, "c0", target, count=20)) == 0
        assert reached(probe(host, "ca", target6, count=20, port=PORT + 1)) == 0
        # Within one network, traffic still flows.
        assert reached(probe(host, "cb2", target, count=5)) == 5
        assert reached(probe(host, "cb2", target6, count=5, port=PORT + 1)) == 5
        # And the network's own gateway (the host) still answers.
        run(["nsenter", f"--net={sandbox(host, 'ca')}", "ping", "-c", "1", "-W", "2", gateway])
    finally:
        host.daemon.send_signal(signal.SIGCONT)
    wait_until(lambda: berth_table_present(host), timeout=5, message="berth's table back")


def test_hairpin_rules_lifecycle_and_foreign_rules(host):
    two_networks(host)
    host.berth("run", "-d", "--name", "pub", "--network", "netb", "-p", "9700:7800", "busybox", "sleep", "600")
    serve(host, "pub", port=7800)
    gateway_a = host.inspect("ca")["NetworkSettings"]["Networks"]["neta"]["Gateway"]
    # A published port of network B, reached from network A through a host address.
    assert reached(probe(host, "ca", gateway_a, count=3, port=9700)) == 3
    # But not B's containers directly.
    assert reached(probe(host, "ca", host.ip_of("pub", "netb"), count=3, port=7800)) == 0

    # Rules are per network: A's and B's bridges each have theirs.
    bridge_a, bridge_b = bridge_of(host, "neta"), bridge_of(host, "netb")
    ours = berth_rules(host)
    assert {r.get("iif") for r in ours if r.get("protocol") == str(PROTOCOL)} >= {bridge_a, bridge_b, "berth0"}
    assert any(r.get("dst") == "10.82.0.0/24" and r.get("type") == "prohibit" for r in isolation_routes(host))

    # Someone else's rules are never touched.
    host.sh(f"ip rule add iif {bridge_a} lookup 100 priority {PRIORITIES[1]}")
    host.sh("ip rule add iif bx-theirs lookup 101 priority 1000")
    host.sh(f"ip route add prohibit 10.99.0.0/24 table {TABLE}")

    host.berth("rm", "-f", "ca")
    host.berth("network", "rm", "neta")
    assert not any(r.get("iif") == bridge_a and r.get("protocol") == "98" for r in berth_rules(host)), berth_rules(host)
    assert not any(r.get("dst") == "10.81.0.0/24" for r in isolation_routes(host))

    # After a kill -9 a stale berth rule (of a network gone meanwhile) is removed and the
    # current ones are there once.
    host.kill9()
    host.sh(f"ip rule add iif br-stale0 lookup {TABLE} priority {PRIORITIES[1]} protocol {PROTOCOL}")
    host.sh(f"ip route add prohibit 10.98.0.0/24 table {TABLE} protocol {PROTOCOL}")
    host.start()
    ours = berth_rules(host)
    assert not any(r.get("iif") == "br-stale0" for r in ours)
    assert not any(r.get("dst") == "10.98.0.0/24" for r in isolation_routes(host))
    # B's: its own subnet kept (IPv4), then the lookup in berth's table (both families).
    mine = [r for r in ours if r.get("iif") == bridge_b and r.get("protocol") == str(PROTOCOL)]
    assert sorted(r["priority"] for r in mine) == [PRIORITIES[0], PRIORITIES[1], PRIORITIES[1]], mine
    assert reached(probe(host, "c0", host.ip_of("cb", "netb"), count=5)) == 0

    # --cleanup removes berth's rules and routes, and only those.
    host.stop()
    host.extra_args.append("--cleanup")
    host.start()
    host.stop()
    left = rules(host)
    assert not any(r.get("protocol") == str(PROTOCOL) for r in left), left
    assert any(r.get("iif") == bridge_a and r.get("table") == "100" for r in left)
    assert any(r.get("iif") == "bx-theirs" for r in left)
    assert [r.get("dst") for r in isolation_routes(host)] == ["10.99.0.0/24"]

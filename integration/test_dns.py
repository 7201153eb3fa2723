"""Issue 3: embedded DNS on user-defined networks: names both ways, scoping, aliases,
round robin, PTR, changes at once, forwarding to a fake upstream (never a real resolver)."""
import json
import os
import re
import socket
import struct
import subprocess

from harness import wait_until


def lookup(host, container, name, check=True):
    """Addresses busybox nslookup prints for `name` (empty when it fails)."""
    result = host.berth("exec", container, "nslookup", name, check=False)
    answers = result.stdout.split("Name:", 1)[1] if "Name:" in result.stdout else ""
    addresses = re.findall(r"Address(?: \d+)?:\s*([0-9a-f.:]+)", answers)
    if check:
        # busybox asks for A and AAAA; the fake upstream refuses the AAAA half, which makes
        # nslookup exit 1 even though the A answer came back.
        assert addresses or result.returncode == 0, result.stdout + result.stderr
    return addresses


def sleeper(host, name, *args):
    host.berth("run", "-d", "--name", name, *args, "busybox", "sleep", "600")


def test_names_resolve_both_ways_with_aliases_and_ptr(host):
    host.berth("network", "create", "--subnet", "10.70.0.0/24", "app")
    sleeper(host, "a", "--network", "app")
    sleeper(host, "b", "--network", "app", "--network-alias", "db")
    ip_a, ip_b = host.ip_of("a", "app"), host.ip_of("b", "app")
    assert host.berth("exec", "a", "cat", "/etc/resolv.conf").stdout.startswith("nameserver 10.70.0.1")
    host.berth("exec", "a", "ping", "-c", "1", "-W", "2", "b")
    host.berth("exec", "b", "ping", "-c", "1", "-W", "2", "a")
    assert lookup(host, "a", "b") == [ip_b]
    assert lookup(host, "b", "a") == [ip_a]
    assert lookup(host, "a", "db") == [ip_b]
    assert lookup(host, "a", "B.") == [ip_b]  # case-insensitive, trailing dot
    short = host.inspect("b")["Id"][:12]
    assert lookup(host, "a", short) == [ip_b]
    ptr = host.berth("exec", "a", "nslookup", ip_b).stdout
    assert "name = b" in ptr


def test_names_are_scoped_to_shared_networks(host):
    host.fake_upstream()
    host.berth("network", "create", "--subnet", "10.71.0.0/24", "n1")
    host.berth("network", "create", "--subnet", "10.72.0.0/24", "n2")
    sleeper(host, "one", "--network", "n1")
    sleeper(host, "two", "--network", "n2")
    assert lookup(host, "two", "one", check=False) == []
    assert lookup(host, "one", "two", check=False) == []
    # Connected to both: resolves names on both.
    host.berth("network", "connect", "n2", "one")
    assert lookup(host, "one", "two") == [host.ip_of("two", "n2")]
    assert lookup(host, "two", "one") == [host.ip_of("one", "n2")]


def test_shared_alias_returns_all_addresses_round_robin(host):
    host.berth("network", "create", "--subnet", "10.73.0.0/24", "rr")
    for name in ("w1", "w2", "w3"):
        sleeper(host, name, "--network", "rr", "--network-alias", "web")
    sleeper(host, "client", "--network", "rr")
    expected = sorted(host.ip_of(n, "rr") for n in ("w1", "w2", "w3"))
    firsts = set()
    for _ in range(6):
        answers = lookup(host, "client", "web")
        assert sorted(answers) == expected
        firsts.add(answers[0])
    assert len(firsts) > 1, "answers should rotate"


def test_changes_take_effect_at_once(host):
    host.fake_upstream()
    host.berth("network", "create", "--subnet", "10.74.0.0/24", "live")
    host.berth("network", "create", "--subnet", "10.75.0.0/24", "other")
    sleeper(host, "watcher", "--network", "live")
    sleeper(host, "svc", "--network", "live")
    old = host.ip_of("svc", "live")
    assert lookup(host, "watcher", "svc") == [old]
    # Stopped: gone. Restarted: its new address.
    sleeper(host, "filler", "--network", "live")
    host.berth("stop", "-t", "1", "svc")
    assert lookup(host, "watcher", "svc", check=False) == []
    host.berth("start", "svc")
    new = host.ip_of("svc", "live")
    assert new != old and lookup(host, "watcher", "svc") == [new]
    # Disconnected: gone; connected elsewhere: not visible from here.
    host.berth("network", "connect", "other", "svc")
    host.berth("network", "disconnect", "live", "svc")
    assert lookup(host, "watcher", "svc", check=False) == []
    # Removed: gone, and a new container resolves as soon as run -d returns.
    host.berth("network", "connect", "live", "svc")
    assert lookup(host, "watcher", "svc") == [host.ip_of("svc", "live")]
    host.berth("rm", "-f", "svc")
    assert lookup(host, "watcher", "svc", check=False) == []
    sleeper(host, "fresh", "--network", "live")
    assert lookup(host, "watcher", "fresh") == [host.ip_of("fresh", "live")]


def test_a_container_resolves_from_its_first_instruction(host):
    # A process that asks at once (compose's one-off `run`) is answered, not refused by a
    # server that does not know its address yet.
    host.docker("network", "create", "n1")
    sleeper(host, "target", "--network", "n1")
    for _ in range(5):
        result = host.docker("run", "--rm", "--network", "n1", "busybox", "nslookup", "target", check=False)
        assert result.returncode == 0 and "REFUSED" not in result.stdout, result.stdout + result.stderr


def test_link_on_user_network_is_an_alias_for_the_linker_only(host):
    host.berth("network", "create", "--subnet", "10.76.0.0/24", "ln")
    sleeper(host, "target", "--network", "ln")
    sleeper(host, "linker", "--network", "ln", "--link", "target:tgt")
    sleeper(host, "bystander", "--network", "ln")
    assert lookup(host, "linker", "tgt") == [host.ip_of("target", "ln")]
    host.fake_upstream()
    assert lookup(host, "bystander", "tgt", check=False) == []


def tcp_query(sandbox_key, server, name):
    """One DNS query over TCP from inside a container's namespace; returns the rcode and
    the A records."""
    query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        query += bytes([len(label)]) + label.encode()
    query += b"\x00" + struct.pack(">HH", 1, 1)
    script = f"""
import socket, struct, sys
s = socket.create_connection(("{server}", 53), timeout=5)
q = bytes.fromhex("{query.hex()}")
s.sendall(struct.pack(">H", len(q)) + q)
n = struct.unpack(">H", s.recv(2))[0]
data = b""
while len(data) < n:
    data += s.recv(n - len(data))
sys.stdout.write(data.hex())
"""
    out = subprocess.run(["nsenter", f"--net={sandbox_key}", "python3", "-c", script], capture_output=True, text=True,
                         timeout=20, check=True).stdout
    data = bytes.fromhex(out)
    rcode = data[3] & 0x0F
    ancount = struct.unpack(">H", data[6:8])[0]
    # With one A answer, its address is the last four bytes of the message.
    return rcode, [socket.inet_ntoa(data[-4:])] if ancount == 1 else []


def test_forwarding_to_upstream_udp_and_tcp_and_dns_option(host):
    host.fake_upstream("192.0.2.53", {"example.test": "10.9.9.9"})
    host.fake_upstream("192.0.2.54", {"example.test": "10.8.8.8"})
    host.berth("network", "create", "--subnet", "10.77.0.0/24", "out")
    host.berth("network", "create", "--internal", "--subnet", "10.78.0.0/24", "sealed")
    sleeper(host, "c", "--network", "out")
    sleeper(host, "own", "--network", "out", "--dns", "192.0.2.54")
    sleeper(host, "inside", "--network", "sealed")
    assert lookup(host, "c", "example.test") == ["10.9.9.9"]
    assert lookup(host, "c", "nothing.test", check=False) == []
    assert lookup(host, "own", "example.test") == ["10.8.8.8"]
    # --dns does not replace the embedded server in resolv.conf: names still resolve.
    assert "nameserver 10.77.0.1" in host.berth("exec", "own", "cat", "/etc/resolv.conf").stdout
    assert lookup(host, "own", "c") == [host.ip_of("c", "out")]
    # TCP too.
    rcode, addresses = tcp_query(host.inspect("c")["NetworkSettings"]["SandboxKey"], "10.77.0.1", "example.test")
    assert rcode == 0 and addresses == ["10.9.9.9"]
    # Internal networks do not forward, but local names still resolve.
    assert lookup(host, "inside", "example.test", check=False) == []
    sleeper(host, "peer", "--network", "sealed")
    assert lookup(host, "inside", "peer") == [host.ip_of("peer", "sealed")]

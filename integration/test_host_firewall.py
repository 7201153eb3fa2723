"""Issue 15: Debian's real ufw in the test host's namespace, beside berthd.

`nat` mode (Docker's behaviour, the default): published ports are reachable whatever
ufw's incoming policy, and every path of berth's containers works under ufw's default
deny incoming and deny routed. `--published-ports host-firewall`: ufw's INPUT rules decide
whether the LAN reaches a published port; the host itself and containers reach it either
way. ufw runs from copies of its files in a private mount namespace (firewall_daemons).
"""
import hashlib
import os
import subprocess

import pytest

from berth_paths import CLIENT, HOST_IP, LAN_IP, SERVER, Workload
from firewall_daemons import UfwInNamespace
from harness import wait_until
from host_firewalls import (berth_rule_placement, foreign_iptables_save, foreign_ruleset, real_host_firewall,
                            rules_with_comment)

UFW_FILES = ("/etc/ufw", "/etc/default/ufw", "/lib/ufw")
LAN = "published port from the LAN"
GOVERNED_PORT = 9000


def real_ufw_files():
    """A digest of every file of the real host's ufw configuration."""
    digest = {}
    for top in UFW_FILES:
        paths = [top] if os.path.isfile(top) else sorted(os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs)
        for path in paths:
            with open(path, "rb") as f:
                digest[path] = hashlib.sha256(f.read()).hexdigest()
    return digest


@pytest.fixture(scope="module", autouse=True)
def real_host_untouched():
    """ufw ran only in test namespaces, from copies: the real host's ufw, its files and
    its firewall are as they were."""
    before, files, lock = real_host_firewall(), real_ufw_files(), os.path.exists("/run/ufw.lock")
    yield
    assert real_host_firewall() == before
    assert real_ufw_files() == files
    assert os.path.exists("/run/ufw.lock") == lock


def with_ufw(make_host, when, extra_args=()):
    """A test host, its outside namespace, and ufw enabled before or after berthd starts."""
    host = make_host(start=False, extra_args=list(extra_args))
    outside = host.add_outside()
    ufw = UfwInNamespace(host)
    if when == "before":
        ufw.enable()
    host.start()
    host.import_busybox()
    if when == "after":
        ufw.enable()
    assert "Status: active" in ufw("status").stdout
    return host, outside, ufw


def ufw_chains():
    """ufw's drop-policy chains in both families: berth's rule must end each."""
    return {f"{family} filter {chain}": True for family in ("ip", "ip6") for chain in ("FORWARD", "INPUT")}


@pytest.mark.parametrize("when", ["before", "after"])
def test_nat_mode_under_ufw_defaults(make_host, when):
    host, outside, ufw = with_ufw(make_host, when, extra_args=["--cleanup"])
    workload = Workload(host, outside)
    workload.assert_paths()
    assert berth_rule_placement(host) == ufw_chains()

    # ufw reload rebuilds its chains: berthd puts its rules back, and every path works.
    ufw("reload")
    workload.assert_paths()
    assert berth_rule_placement(host) == ufw_chains()

    # A routed rule of the user's comes before berth's: it wins over berth's accept.
    ufw("route", "deny", "from", LAN_IP)
    workload.assert_paths(overrides={LAN: False})
    assert berth_rule_placement(host) == ufw_chains()
    ufw("route", "delete", "deny", "from", LAN_IP)
    workload.assert_paths()

    # berthd --cleanup exits: its rules leave ufw's chains, ufw's own stay as they were.
    others, status = (foreign_ruleset(host), foreign_iptables_save(host)), ufw("status", "verbose").stdout
    host.stop()
    assert rules_with_comment(host) == []
    assert (foreign_ruleset(host), foreign_iptables_save(host)) == others
    assert ufw("status", "verbose").stdout == status


def peer_container(host, name, port):
    """A container publishing `port` over TCP and UDP with the peer server on both, which
    answers with the address the connection came from."""
    host.berth("run", "-d", "--name", name, "-p", f"{port}:7000", "-p", f"{port}:7000/udp", "busybox", "sleep", "600")
    sandbox = host.inspect(name)["NetworkSettings"]["SandboxKey"]
    for kind in ("tcp", "udp"):
        process = subprocess.Popen(["nsenter", f"--net={sandbox}", *SERVER, kind, "0.0.0.0", "7000"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        host.helpers.append(process)
    wait_until(lambda: subprocess.run(["nsenter", f"--net={sandbox}", "ss", "-lntu"], capture_output=True,
                                      text=True).stdout.count(":7000 ") == 2, message=f"peer servers in {name}")
    return host.inspect(name)["NetworkSettings"]["Networks"]["bridge"]["Gateway"]


def ask_from(netns, kind, port):
    """What the peer server says about us, asked from `netns` at the host's address; None
    when nothing answered."""
    result = subprocess.run(["ip", "netns", "exec", netns, *CLIENT, kind, HOST_IP, str(port)],
                            capture_output=True, text=True, timeout=15)
    return result.stdout.strip() if result.returncode == 0 else None


@pytest.mark.parametrize("when", ["before", "after"])
def test_host_firewall_mode_lets_ufw_govern_published_ports(make_host, when):
    host, outside, ufw = with_ufw(make_host, when, extra_args=["--published-ports", "host-firewall"])
    workload = Workload(host, outside)
    gateway = peer_container(host, "hf-peer", GOVERNED_PORT)

    def lan(kind):
        return ask_from(outside, kind, GOVERNED_PORT)

    # ufw's default deny incoming: closed from the LAN, open from the host and containers.
    workload.assert_paths(overrides={LAN: False})
    assert lan("tcp") is None and lan("udp") is None
    assert ask_from(host.netns, "tcp", GOVERNED_PORT) is not None
    assert host.berth("exec", workload.client, "nc", "-w", "3", HOST_IP, str(GOVERNED_PORT)).stdout.startswith("peer=")

    # `ufw allow`: the LAN gets in, and the container sees berthd's relay at its gateway.
    ufw("allow", "8080/tcp")
    ufw("allow", f"{GOVERNED_PORT}/tcp")
    ufw("allow", f"{GOVERNED_PORT}/udp")
    workload.assert_paths()
    assert lan("tcp") == f"peer={gateway}"
    assert lan("udp") == f"peer={gateway}"

    # `ufw deny` closes it again; the host and containers still get through.
    ufw("deny", "8080/tcp")
    ufw("deny", f"{GOVERNED_PORT}/udp")
    workload.assert_paths(overrides={LAN: False})
    assert lan("udp") is None and lan("tcp") == f"peer={gateway}"

    # ufw reload keeps all of it: the denied port closed, the allowed one open, berth's
    # own paths working.
    ufw("reload")
    workload.assert_paths(overrides={LAN: False})
    assert lan("udp") is None and lan("tcp") == f"peer={gateway}"
    assert berth_rule_placement(host) == ufw_chains()

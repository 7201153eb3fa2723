"""Issue 15, points 1 and 2: berth beside other firewalls in the same host namespace.

Another table with a drop-policy forward or input base chain (iptables-nft's `ip filter`,
a hand-written nft table, dockerd's rules) gets one rule of berth's as its last rule,
accepting what berth's own table marked; every rule the user wrote before it still wins,
and `berthd --cleanup` leaves every other rule as it found it.
"""
import pytest

from berth_paths import HOST_IP, INTERNET, INTERNET_PORT, LAN_IP, PAGE, WEB, Workload, in_netns
from firewall_daemons import DockerdInNamespace
from harness import wait_until
from host_firewalls import (USER_TABLE, berth_rule_is_last, berth_rule_placement, bridge_mentions, chain_rules,
                            chains, foreign_iptables_save, foreign_ruleset, forward_drop, real_host_firewall,
                            rules_with_comment, user_drop_table)


@pytest.fixture(scope="module", autouse=True)
def real_host_untouched():
    """Everything happens in test namespaces: the real host's firewall never moves."""
    before = real_host_firewall()
    yield
    assert real_host_firewall() == before


def started(make_host, firewall, when, **kw):
    """A test host with its outside namespace and `firewall(host)` applied before or after
    berthd starts."""
    host = make_host(start=False, **kw)
    outside = host.add_outside()
    if when == "before":
        firewall(host)
    host.start()
    host.import_busybox()
    if when == "after":
        firewall(host)
    return host, outside


@pytest.mark.parametrize("when", ["before", "after"])
def test_iptables_forward_drop(make_host, when):
    host, outside = started(make_host, forward_drop, when)
    workload = Workload(host, outside)
    workload.assert_paths()
    assert berth_rule_placement(host) == {"ip filter FORWARD": True}

    # The user flushes the chain: berth's rule is missing, berthd adds it back.
    host.sh("iptables -F FORWARD")
    wait_until(lambda: berth_rule_placement(host) == {"ip filter FORWARD": True}, timeout=5,
               message="berth's rule back after iptables -F FORWARD")
    # The policy is no longer drop: berth's rule has no reason to be there and goes.
    host.sh("iptables -P FORWARD ACCEPT")
    wait_until(lambda: rules_with_comment(host) == [], timeout=5, message="berth's rule to go with the drop policy")
    workload.assert_paths()
    forward_drop(host)
    wait_until(lambda: berth_rule_placement(host) == {"ip filter FORWARD": True}, timeout=5,
               message="berth's rule back with the drop policy")
    workload.assert_paths()


@pytest.mark.parametrize("when", ["before", "after"])
def test_nft_drop_table_and_the_users_own_drops(make_host, when):
    host, outside = started(make_host, user_drop_table, when)
    workload = Workload(host, outside)
    workload.assert_paths()
    assert berth_rule_placement(host) == {f"inet {USER_TABLE} forward": True, f"inet {USER_TABLE} input": True}

    # The user's drop for the published port's container port, placed before berth's
    # rule: the LAN no longer reaches it, what berth carries otherwise still passes.
    host.sh(f"nft insert rule inet {USER_TABLE} forward ip daddr {workload.web_ip} tcp dport 80 drop")
    lan = "published port from the LAN"
    probes = workload.probes()
    wait_until(lambda: not probes[lan](), timeout=5, message="the user's port drop to win")
    assert probes["outbound to the internet"]()
    handle = chain_rules(host, "inet", USER_TABLE, "forward")[0]["handle"]
    host.sh(f"nft delete rule inet {USER_TABLE} forward handle {handle}")
    wait_until(probes[lan], timeout=5, message="the published port once the user's drop is gone")

    # A rule the user appends lands after berth's: berthd moves its own back to the end,
    # so the user's drop of the LAN client wins.
    host.sh(f"nft add rule inet {USER_TABLE} forward ip saddr {LAN_IP} drop")
    wait_until(lambda: berth_rule_is_last(host, "inet", USER_TABLE, "forward"), timeout=5,
               message="berth's rule to move back to the end of the forward chain")
    rules = chain_rules(host, "inet", USER_TABLE, "forward")
    assert [r.get("comment") for r in rules] == [None, "berth"]
    wait_until(lambda: not probes[lan](), timeout=5, message="the user's source drop to win")
    assert probes["published port from the host at its own address"]()
    assert probes["outbound to the internet"]()


def test_network_rm_and_cleanup_leave_only_the_others_rules(make_host):
    host = make_host(start=False, extra_args=["--cleanup"])
    outside = host.add_outside()
    # iptables rules of the user's, ufw-like, and a drop table of their own.
    host.sh("iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT "
            "&& iptables -A INPUT -p tcp --dport 22 -j ACCEPT && iptables -P INPUT DROP "
            "&& iptables -A FORWARD -s 192.0.2.99 -j DROP && iptables -P FORWARD DROP")
    user_drop_table(host)
    host.sh(f"nft add rule inet {USER_TABLE} input iifname lo accept")
    before, before_save = foreign_ruleset(host), foreign_iptables_save(host)

    host.start()
    host.import_busybox()
    workload = Workload(host, outside)
    workload.assert_paths()
    placement = berth_rule_placement(host)
    assert placement == {"ip filter FORWARD": True, "ip filter INPUT": True,
                         f"inet {USER_TABLE} forward": True, f"inet {USER_TABLE} input": True}
    assert len(rules_with_comment(host)) == len(placement)
    # berth added its rules and changed nothing else.
    assert foreign_ruleset(host) == before
    assert foreign_iptables_save(host) == before_save

    # A removed network leaves no trace in any table.
    bridge = workload.bridge_of(workload.net_b)
    assert bridge_mentions(host, bridge), f"{bridge} should be in berth's table while its network exists"
    host.berth("rm", "-f", workload.stranger)
    host.berth("network", "rm", workload.net_b)
    assert bridge_mentions(host, bridge) == []

    # berthd --cleanup exits: berth's tables and rules are gone, the rest is as it was.
    host.stop()
    assert rules_with_comment(host) == []
    tables = host.sh("nft list tables").stdout
    assert "berth" not in tables, tables
    assert foreign_ruleset(host) == before
    assert foreign_iptables_save(host) == before_save


# --- dockerd beside berthd --------------------------------------------------------

@pytest.fixture
def dockerd(make_host):
    """dockerd instances made by a test, stopped and removed before their hosts are."""
    made = []

    def factory(host):
        made.append(DockerdInNamespace(host))
        return made[-1]

    yield factory
    for daemon in made:
        daemon.cleanup()


@pytest.mark.parametrize("order", ["dockerd first", "berthd first"])
def test_dockerd_beside_berthd(make_host, dockerd, order):
    host = make_host(start=False, extra_args=["--cleanup"])
    outside = host.add_outside()
    docker = dockerd(host)
    if order == "dockerd first":
        docker.start()
    host.start()
    host.import_busybox()
    if order == "berthd first":
        docker.start()
        # Debian's dockerd 20.10 sets FORWARD's policy to drop only when it had to turn
        # forwarding on, and berthd already did: set it as such a host's admin would.
        if chains(host)[("ip", "filter", "FORWARD")].get("policy") != "drop":
            forward_drop(host)
    assert chains(host)[("ip", "filter", "FORWARD")]["policy"] == "drop"
    assert ("ip", "filter", "DOCKER-USER") in chains(host)

    workload = Workload(host, outside)
    workload.assert_paths()
    assert berth_rule_placement(host) == {"ip filter FORWARD": True}

    # Docker's own containers still work: outbound, and a published port from the LAN.
    image = docker.import_busybox()
    reply = docker.docker("run", "--rm", image, "nc", "-w", "3", INTERNET, str(INTERNET_PORT), check=False)
    assert reply.stdout.strip() == f"peer={HOST_IP}", reply.stderr
    docker.docker("run", "-d", "--name", "hf-dweb", "-p", "8090:80", image, *WEB)
    wait_until(lambda: in_netns(outside, ["curl", "-s", "--max-time", "3", f"http://{HOST_IP}:8090/"]).stdout.strip()
               == PAGE, timeout=10, message="docker's published port from the LAN")
    # And berth's still do, with Docker's container running beside them.
    workload.assert_paths()

    # berthd --cleanup exits: only berth's rules go, dockerd's stay as they were and work.
    others = foreign_ruleset(host), foreign_iptables_save(host)
    host.stop()
    assert rules_with_comment(host) == []
    assert (foreign_ruleset(host), foreign_iptables_save(host)) == others
    assert in_netns(outside, ["curl", "-s", "--max-time", "3", f"http://{HOST_IP}:8090/"]).stdout.strip() == PAGE


# --- overlays across nodes whose firewalls drop by default ------------------------

def drop_by_default_keeping_replies(host):
    """INPUT and FORWARD policy drop, INPUT accepting only replies and loopback, as a
    careful admin's host (berthd's own etcd connection needs the replies)."""
    host.sh("iptables -A INPUT -i lo -j ACCEPT "
            "&& iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT "
            "&& iptables -P INPUT DROP && iptables -P FORWARD DROP")


def test_overlay_across_nodes_with_drop_policies(make_host):
    from cluster import Cluster

    cluster = Cluster(make_host, nodes=2)
    try:
        node1, node2 = cluster.nodes
        for node in cluster.nodes:
            drop_by_default_keeping_replies(node)
        node1.berth("network", "create", "-d", "overlay", "--subnet", "10.83.0.0/24", "hfov")
        wait_until(lambda: "hfov" in node2.berth("network", "ls", "--format", "{{.Name}}").stdout.split(),
                   timeout=5, message="the overlay on node2")
        for index, node in enumerate(cluster.nodes, start=1):
            node.berth("run", "-d", "--name", f"hf-o{index}", "--network", "hfov", "busybox", *WEB)
        far = node2.ip_of("hf-o2", "hfov")
        # VXLAN between the nodes passes their INPUT only by berth's mark (it is not
        # tracked, so no ESTABLISHED rule lets it in).
        wait_until(lambda: node1.berth("exec", "hf-o1", "ping", "-c", "1", "-W", "1", far, check=False).returncode == 0,
                   timeout=10, message="a ping across the overlay, through both nodes' INPUT policy drop")
        page = node1.berth("exec", "hf-o1", "timeout", "3", "wget", "-qO-", f"http://{far}/", check=False)
        assert page.stdout.strip() == PAGE, page.stderr
        # By name: the other node's record comes through etcd, and the query goes to the
        # container's gateway on its own node.
        wait_until(lambda: node2.berth("exec", "hf-o2", "timeout", "3", "wget", "-qO-", "http://hf-o1/",
                                       check=False).stdout.strip() == PAGE, timeout=10, message="hf-o1 by name from node2")
        for node in cluster.nodes:
            assert berth_rule_placement(node) == {"ip filter FORWARD": True, "ip filter INPUT": True}
    finally:
        cluster.cleanup()


# --- the user chain: DOCKER-USER's counterpart in berth's table ---------------------

def user_chain(host):
    return chain_rules(host, "inet", "berth", "user")


def test_user_chain_rules_are_final_and_kept(make_host):
    host = make_host()
    outside = host.add_outside()
    workload = Workload(host, outside)
    workload.assert_paths()
    probes = workload.probes()
    lan = "published port from the LAN"
    # berth's forward chain jumps to `user` before anything else of its own.
    first = chain_rules(host, "inet", "berth", "forward")[0]
    assert {"jump": {"target": "user"}} in first["expr"], first
    assert user_chain(host) == []

    host.sh("nft add rule inet berth user tcp dport 80 drop")
    wait_until(lambda: not probes[lan](), timeout=5, message="the user's port drop to win")
    assert probes["outbound to the internet"]()
    assert not probes["hairpin: container to the host's address and published port"]()
    kept = user_chain(host)

    # berth rewrites its own table (a new network) and restarts: the user's rule stays,
    # the very same rule (same handle), and still wins.
    host.berth("network", "create", "--subnet", "10.84.0.0/24", "hfc")
    host.berth("run", "-d", "--name", "hf-later", "--network", "hfc", "-p", "8081:80", "busybox", *WEB)
    assert user_chain(host) == kept
    host.restart()
    assert user_chain(host) == kept
    assert not probes[lan]()
    assert not in_netns(outside, ["curl", "-s", "--max-time", "3", f"http://{HOST_IP}:8081/"]).stdout.strip()

    # A source drop instead: the LAN client is out, the host itself is not.
    host.sh(f"nft flush chain inet berth user && nft add rule inet berth user ip saddr {LAN_IP} drop")
    wait_until(lambda: not probes[lan](), timeout=5, message="the user's source drop to win")
    assert probes["published port from the host at its own address"]()
    host.sh("nft flush chain inet berth user")
    workload.assert_paths()
    # The later container's port was closed by the user's rule alone.
    assert in_netns(outside, ["curl", "-s", "--max-time", "3", f"http://{HOST_IP}:8081/"]).stdout.strip() == PAGE

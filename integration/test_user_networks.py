"""Issue 3: user-defined networks, connect/disconnect, static addresses, IPv6, bad input."""
import json

from harness import fails, wait_until


def test_network_lifecycle_with_berth_and_docker(host):
    net_id = host.berth("network", "create", "--subnet", "10.20.0.0/24", "--gateway", "10.20.0.254",
                        "--ip-range", "10.20.0.128/25", "--aux-address", "router=10.20.0.200",
                        "--label", "team=a", "-o", "com.docker.network.bridge.name=br-mynet", "mynet").stdout.strip()
    assert len(net_id) == 64
    net = json.loads(host.berth("network", "inspect", "mynet").stdout)[0]
    assert net["Id"] == net_id and net["Driver"] == "bridge" and net["Labels"] == {"team": "a"}
    pool = net["IPAM"]["Config"][0]
    assert pool == {"Subnet": "10.20.0.0/24", "Gateway": "10.20.0.254", "IPRange": "10.20.0.128/25",
                    "AuxiliaryAddresses": {"router": "10.20.0.200"}}
    # Its own Linux bridge, with the gateway on it.
    assert "10.20.0.254/24" in host.sh("ip -o -4 addr show br-mynet").stdout
    # Addresses come from the ip range, skipping the aux address.
    host.berth("run", "-d", "--name", "a", "--network", "mynet", "busybox", "sleep", "600")
    assert host.ip_of("a", "mynet") == "10.20.0.128"
    route = host.berth("exec", "a", "ip", "route").stdout
    assert "default via 10.20.0.254" in route
    # docker CLI sees the same.
    docker_ls = host.docker("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout.split("\n")
    assert "mynet bridge" in docker_ls
    dnet = json.loads(host.docker("network", "inspect", "mynet").stdout)[0]
    assert [c["Name"] for c in dnet["Containers"].values()] == ["a"]
    assert host.berth("network", "ls", "-q", "--filter", "name=mynet").stdout.strip() == net_id[:12]
    assert "active endpoints" in fails(host, "network", "rm", "mynet")
    host.berth("rm", "-f", "a")
    host.docker("network", "rm", "mynet")
    assert "br-mynet" not in [l["ifname"] for l in host.links()]
    # prune removes unused user networks only.
    host.berth("network", "create", "p1")
    host.docker("network", "create", "p2")
    host.berth("run", "-d", "--name", "keep", "--network", "p2", "busybox", "sleep", "600")
    out = host.berth("network", "prune", "-f").stdout
    assert "p1" in out and "p2" not in out
    names = host.berth("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert sorted(names) == ["bridge", "host", "none", "p2"]


def test_automatic_subnets_avoid_each_other_and_the_host(host):
    host.sh("ip link add up0 type veth peer name up1 && ip addr add 172.18.0.1/16 dev up0")
    host.berth("network", "create", "n1")
    host.berth("network", "create", "n2")
    subnets = {json.loads(host.berth("network", "inspect", n).stdout)[0]["IPAM"]["Config"][0]["Subnet"] for n in ("n1", "n2")}
    assert subnets == {"172.19.0.0/16", "172.20.0.0/16"}


def test_static_ip_mac_and_connect_disconnect_live(host):
    host.berth("network", "create", "--subnet", "10.30.0.0/24", "front")
    host.berth("network", "create", "--subnet", "10.31.0.0/24", "back")
    host.berth("run", "-d", "--name", "web", "--network", "front", "--ip", "10.30.0.50",
               "--mac-address", "02:00:00:00:00:50", "busybox", "sleep", "600")
    assert host.ip_of("web", "front") == "10.30.0.50"
    assert "02:00:00:00:00:50" in host.berth("exec", "web", "ip", "link", "show", "eth0").stdout
    host.berth("run", "-d", "--name", "db", "--network", "back", "busybox", "sleep", "600")
    db_ip = host.ip_of("db", "back")
    # Connect adds eth1 to the running container; it can then reach db.
    host.berth("network", "connect", "--ip", "10.31.0.77", "back", "web")
    assert "10.31.0.77/24" in host.berth("exec", "web", "ip", "-4", "addr", "show", "eth1").stdout
    host.berth("exec", "web", "ping", "-c", "1", "-W", "2", db_ip)
    assert "already exists" in fails(host, "network", "connect", "back", "web")
    # Disconnect returns at once; the interface goes right after, in the background.
    host.berth("network", "disconnect", "back", "web")
    wait_until(lambda: host.berth("exec", "web", "ip", "link", "show", "eth1", check=False).returncode != 0,
               message="eth1 to go")
    assert host.berth("exec", "web", "ping", "-c", "1", "-W", "1", db_ip, check=False).returncode != 0
    assert "back" not in host.inspect("web")["NetworkSettings"]["Networks"]
    # The docker CLI can connect too.
    host.docker("network", "connect", "back", "web")
    assert "back" in host.inspect("web")["NetworkSettings"]["Networks"]
    host.docker("network", "disconnect", "back", "web")
    # A taken or foreign static address is refused.
    assert "already in use" in fails(host, "run", "-d", "--network", "front", "--ip", "10.30.0.50", "busybox", "true")
    assert "does not belong" in fails(host, "run", "-d", "--network", "front", "--ip", "10.99.0.5", "busybox", "true")
    assert "user defined networks only" in fails(host, "run", "-d", "--ip", "172.17.0.9", "busybox", "true")


def test_ipv6_dual_stack_network(host):
    host.berth("network", "create", "--ipv6", "--subnet", "10.40.0.0/24", "--subnet", "fd00:40::/64", "dual")
    host.berth("run", "-d", "--name", "a", "--network", "dual", "busybox", "sleep", "600")
    host.berth("run", "-d", "--name", "b", "--network", "dual", "--ip6", "fd00:40::99", "busybox", "sleep", "600")
    settings = host.inspect("a")["NetworkSettings"]["Networks"]["dual"]
    assert settings["GlobalIPv6Address"].startswith("fd00:40::") and settings["GlobalIPv6PrefixLen"] == 64
    assert host.inspect("b")["NetworkSettings"]["Networks"]["dual"]["GlobalIPv6Address"] == "fd00:40::99"
    host.berth("exec", "a", "ping", "-6", "-c", "1", "-W", "2", "fd00:40::99")
    assert "default via fd00:40::1" in host.berth("exec", "a", "ip", "-6", "route").stdout
    # The embedded DNS answers AAAA as well as A on a dual-stack network.
    out = host.berth("exec", "a", "nslookup", "b").stdout
    assert "fd00:40::99" in out and host.ip_of("b", "dual") in out


def test_dns_search_and_options_reach_resolv_conf(host):
    host.berth("network", "create", "--subnet", "10.41.0.0/24", "s")
    host.berth("run", "-d", "--name", "r", "--network", "s", "--dns-search", "corp.test", "--dns-option", "ndots:2",
               "busybox", "sleep", "600")
    resolv = host.berth("exec", "r", "cat", "/etc/resolv.conf").stdout
    assert resolv == "nameserver 10.41.0.1\nsearch corp.test\noptions ndots:2\n"
    host.berth("run", "-d", "--name", "plain", "--dns", "192.0.2.99", "busybox", "sleep", "600")
    assert host.berth("exec", "plain", "cat", "/etc/resolv.conf").stdout == "nameserver 192.0.2.99\n"


def test_network_bad_input_changes_nothing(host):
    host.berth("network", "create", "--subnet", "10.50.0.0/16", "taken")
    before = host.berth("network", "ls", "-q").stdout
    assert "overlaps" in fails(host, "network", "create", "--subnet", "10.50.1.0/24", "clash")
    assert "not in subnet" in fails(host, "network", "create", "--subnet", "10.60.0.0/24", "--gateway", "10.61.0.1", "gw")
    assert "host bits" in fails(host, "network", "create", "--subnet", "10.60.0.1/24", "hb")
    assert "already exists" in fails(host, "network", "create", "taken")
    # Docker takes any name but a blank one or a mode's (spaces included: test_network_api.py).
    assert "name is empty" in fails(host, "network", "create", " ")
    assert "predefined host network" in fails(host, "network", "create", "host")
    assert "not found" in fails(host, "network", "connect", "ghostnet", "x")
    assert "not found" in fails(host, "network", "inspect", "ghostnet")
    assert "pre-defined" in fails(host, "network", "rm", "bridge")
    assert "cluster store" in fails(host, "network", "create", "-d", "overlay", "ov")
    assert host.berth("network", "ls", "-q").stdout == before

"""Safety: every address a request carries is checked before anything changes: a bad one
gets a 400 (409 for an overlap) with one line naming the field and the reason, the daemon
stays up, and the kernel is as it was."""
import pytest

from harness import fails
from kernel_state import kernel_state, ping, refused_start


def pool(subnet=None, **extra):
    entry = {"Subnet": subnet} if subnet else {}
    entry.update(extra)
    return entry


def create(host, *pools, ipv6=False, name="bad"):
    return host.api("POST", "/networks/create",
                    body={"Name": name, "Driver": "bridge", "EnableIPv6": ipv6, "IPAM": {"Config": list(pools)}})


def assert_refused(host, status, body, field, reason, before, statuses=(400,)):
    ping(host)
    assert status in statuses, f"{status} {body}"
    message = body["message"]
    assert "\n" not in message and field in message and reason in message, message
    assert kernel_state(host) == before
    assert "bad" not in host.berth("network", "ls", "--format", "{{.Name}}").stdout.split()


@pytest.fixture
def uplink(host):
    """A host interface of the test host: its own subnet and a route behind it, both ways."""
    host.sh("ip link add uplink0 type veth peer name uplink0p && ip link set uplink0 up && ip addr add 198.51.100.7/24 dev uplink0 "
            "&& ip route add 10.55.0.0/16 dev uplink0 && ip addr add fd00:99::7/64 dev uplink0 nodad")
    return host


V4_SUBNETS = [
    ("255.255.255.255/32", "too small"), ("10.0.0.0/31", "too small"), ("10.0.0.0/32", "too small"),
    ("0.0.0.0/0", "too large"), ("0.0.0.0/30", "unspecified"), ("127.0.0.0/8", "loopback"),
    ("224.0.0.0/24", "multicast"), ("239.1.0.0/16", "multicast"), ("255.255.255.0/24", "reserved"),
    ("240.0.0.0/24", "reserved"), ("169.254.0.0/16", "link-local"), ("10.0.0.1/24", "host bits"),
    ("198.51.100.0/24", "uplink0"), ("198.51.100.0/25", "uplink0"), ("10.55.3.0/24", "uplink0"),
]


@pytest.mark.parametrize("subnet,reason", V4_SUBNETS)
def test_bad_ipv4_subnets(uplink, subnet, reason):
    host = uplink
    before = kernel_state(host)
    status, body = create(host, pool(subnet))
    assert_refused(host, status, body, "subnet", reason, before, statuses=(400, 409))


V6_SUBNETS = [
    ("::/0", "unspecified"), ("::/128", "unspecified"), ("::1/128", "loopback"), ("ff00::/8", "multicast"),
    ("ffff::/16", "multicast"), ("fe80::/64", "link-local"), ("::ffff:0:0/96", "IPv4-mapped"),
    ("fd00:1::/125", "too small"), ("fd00:99::/64", "uplink0"), ("fd00:99::/48", "uplink0"),
]


@pytest.mark.parametrize("subnet,reason", V6_SUBNETS)
def test_bad_ipv6_subnets(uplink, subnet, reason):
    host = uplink
    before = kernel_state(host)
    status, body = create(host, pool("10.64.0.0/24"), pool(subnet), ipv6=True)
    assert_refused(host, status, body, "subnet", reason, before, statuses=(400, 409))


BAD_POOLS = [
    (pool("10.65.0.0/24", Gateway="10.66.0.1"), "gateway", "not in subnet"),
    (pool("10.65.0.0/24", Gateway="10.65.0.0"), "gateway", "network address"),
    (pool("10.65.0.0/24", Gateway="10.65.0.255"), "gateway", "broadcast"),
    (pool("10.65.0.0/24", Gateway="banana"), "gateway", "not an IPv4 address"),
    (pool("10.65.0.0/24", IPRange="10.66.0.0/25"), "ip-range", "not inside subnet"),
    (pool("10.65.0.0/24", IPRange="10.65.0.0/23"), "ip-range", "not inside subnet"),
    (pool("10.65.0.0/24", IPRange="10.65.0.255/32"), "ip-range", "no usable"),
    (pool("10.65.0.0/24", AuxiliaryAddresses={"r": "10.66.0.9"}), "aux-address", "not in subnet"),
    (pool("10.65.0.0/24", AuxiliaryAddresses={"r": "10.65.0.255"}), "aux-address", "broadcast"),
]


@pytest.mark.parametrize("entry,field,reason", BAD_POOLS)
def test_bad_gateways_ranges_and_auxiliary_addresses(host, entry, field, reason):
    before = kernel_state(host)
    status, body = create(host, entry)
    assert_refused(host, status, body, field, reason, before)


def test_bad_ipv6_gateways_and_unsupported_fields(host):
    before = kernel_state(host)
    for entry, field, reason in [
        (pool("fd00:65::/64", Gateway="fd00:66::1"), "gateway", "not in subnet"),
        (pool("fd00:65::/64", Gateway="fd00:65::"), "gateway", "network address"),
        (pool("fd00:65::/64", IPRange="fd00:65::/80"), "ip-range", "IPv6"),
        (pool("fd00:65::/64", AuxiliaryAddresses={"r": "fd00:65::9"}), "aux-address", "IPv6"),
    ]:
        status, body = create(host, pool("10.65.0.0/24"), entry, ipv6=True)
        assert_refused(host, status, body, field, reason, before)


def test_overlapping_networks_are_refused(host):
    host.berth("network", "create", "--subnet", "10.67.0.0/16", "first")
    before = kernel_state(host)
    status, body = create(host, pool("10.67.5.0/24"))
    assert_refused(host, status, body, "subnet", "first", before, statuses=(409,))


def test_cli_gives_one_line(uplink):
    host = uplink
    before = kernel_state(host)
    assert "too small" in fails(host, "network", "create", "--subnet", "255.255.255.255/32", "top")
    assert "loopback" in fails(host, "network", "create", "--subnet", "127.0.0.0/8", "lo8")
    assert "uplink0" in fails(host, "network", "create", "--subnet", "198.51.100.0/24", "up")
    ping(host)
    assert kernel_state(host) == before


def test_static_addresses(host):
    host.berth("network", "create", "--ipv6", "--subnet", "10.68.0.0/24", "--subnet", "fd00:68::/64", "user")
    host.berth("network", "create", "auto")
    auto_subnet = host.api("GET", "/networks/auto")[1]["IPAM"]["Config"][0]["Subnet"]
    inside = auto_subnet.split("/")[0].rsplit(".", 1)[0] + ".9"
    host.berth("run", "-d", "--name", "plain", "--network", "user", "busybox", "sleep", "600")
    before = kernel_state(host)
    wanted = "user specified IP address is supported only when connecting to networks with user configured subnets"
    assert wanted in fails(host, "run", "-d", "--network", "auto", "--ip", inside, "busybox", "true")
    assert wanted in fails(host, "network", "connect", "--ip", inside, "auto", "plain")
    for ip, reason in [("10.68.0.0", "network address"), ("10.68.0.255", "broadcast"), ("10.68.0.1", "gateway"),
                       ("10.69.0.5", "does not belong")]:
        assert reason in fails(host, "run", "-d", "--network", "user", "--ip", ip, "busybox", "true")
    for ip, reason in [("fd00:68::", "network address"), ("fd00:68::1", "gateway"), ("fd00:69::5", "IPv6 subnet")]:
        assert reason in fails(host, "run", "-d", "--network", "user", "--ip6", ip, "busybox", "true")
    ping(host)
    assert kernel_state(host) == before


@pytest.mark.parametrize("bip,reason", [
    ("10.88.0.5/24", "uplink0"), ("127.0.0.1/8", "loopback"), ("255.255.255.254/31", "too small"),
    ("224.0.0.1/24", "multicast"), ("10.89.0.0/24", "network address"), ("10.89.0.255/24", "broadcast"),
])
def test_a_bip_that_cannot_be_used_stops_the_daemon(make_host, bip, reason):
    host = make_host(start=False, bip=bip)
    host.sh("ip link add uplink0 type veth peer name uplink0p && ip addr add 10.88.0.1/24 dev uplink0 && ip link set uplink0 up")
    before = kernel_state(host)
    line = refused_start(host)
    assert "--bip" in line and reason in line, line
    assert kernel_state(host) == before

"""Safety: berth changes and deletes only the kernel objects it made and marked (its
bridges carry the alias "berth bridge"); a name that is someone else's is refused before
anything changes."""
import pytest

from harness import fails
from kernel_state import BRIDGE_ALIAS, addresses_of, kernel_state, link, ping, refused_start


def add_foreign_uplink(host):
    host.sh("ip link add uplink0 type veth peer name uplink0p && ip addr add 198.51.100.1/24 dev uplink0 "
            "&& ip link set uplink0 up && ip link set uplink0p up")


def test_a_foreign_veth_survives_a_refused_create(host):
    add_foreign_uplink(host)
    before = kernel_state(host)
    line = fails(host, "network", "create", "-o", "com.docker.network.bridge.name=uplink0", "hijack")
    assert "uplink0" in line and "not" in line
    ping(host)
    assert link(host, "uplink0") is not None and link(host, "uplink0p") is not None
    assert addresses_of(host, "uplink0") == ["198.51.100.1/24"]
    assert kernel_state(host) == before
    assert "hijack" not in host.berth("network", "ls").stdout


def test_a_foreign_bridge_is_refused_and_kept(host):
    host.sh("ip link add br-mine type bridge && ip addr add 192.0.2.1/24 dev br-mine && ip link set br-mine up")
    before = kernel_state(host)
    line = fails(host, "network", "create", "--subnet", "10.61.0.0/24", "-o", "com.docker.network.bridge.name=br-mine", "mine")
    assert "br-mine" in line and "berth" in line
    ping(host)
    assert kernel_state(host) == before
    assert addresses_of(host, "br-mine") == ["192.0.2.1/24"]
    assert "mine" not in host.berth("network", "ls").stdout
    assert "not found" in fails(host, "network", "rm", "mine")
    assert link(host, "br-mine") is not None


def test_berths_own_bridges_are_marked_and_removed(host):
    host.berth("network", "create", "--subnet", "10.62.0.0/24", "-o", "com.docker.network.bridge.name=br-ours", "ours")
    assert link(host, "br-ours").get("ifalias") == BRIDGE_ALIAS
    assert link(host, "berth0").get("ifalias") == BRIDGE_ALIAS
    host.berth("network", "rm", "ours")
    assert link(host, "br-ours") is None


def test_an_unmarked_bridge_of_an_older_berth_is_recognised(host):
    """A bridge made before berth marked its bridges (recorded in the store, no alias) is
    still berth's: marked at the next start, and removed with its network."""
    host.berth("network", "create", "--subnet", "10.63.0.0/24", "-o", "com.docker.network.bridge.name=br-old", "old")
    host.stop()
    host.sh("ip link set dev br-old alias '' && ip link set dev berth0 alias ''")
    host.start()
    assert link(host, "br-old").get("ifalias") == BRIDGE_ALIAS
    assert link(host, "berth0").get("ifalias") == BRIDGE_ALIAS
    host.berth("network", "rm", "old")
    assert link(host, "br-old") is None


@pytest.mark.parametrize("name", ["uplink0", "br-mine"])
def test_a_default_bridge_name_that_is_not_berths_is_refused(make_host, name):
    host = make_host(start=False, extra_args=["--bridge", name])
    add_foreign_uplink(host)
    host.sh("ip link add br-mine type bridge && ip addr add 192.0.2.1/24 dev br-mine && ip link set br-mine up")
    before = kernel_state(host)
    line = refused_start(host)
    assert name in line and "berth" in line
    assert kernel_state(host) == before
    assert addresses_of(host, "uplink0") == ["198.51.100.1/24"]
    assert addresses_of(host, "br-mine") == ["192.0.2.1/24"]


def test_a_foreign_link_on_a_berth_bridge_survives_a_restart(host):
    """Start-up removes stray container ports from berth's bridges, and only those."""
    host.sh("ip link add mine0 type veth peer name mine0p && ip link set mine0 master berth0 && ip link set mine0 up")
    host.restart()
    assert link(host, "mine0") is not None


def test_a_new_default_bridge_name_is_followed_and_checked(host):
    """`--bridge` changed between runs: a foreign link of the new name is refused with the
    old bridge untouched; a free name is followed and berth's old bridge goes."""
    gateway = addresses_of(host, "berth0")
    host.stop()
    host.sh("ip link add br-mine type bridge && ip addr add 192.0.2.1/24 dev br-mine")
    host.extra_args = ["--bridge", "br-mine"]
    before = kernel_state(host)
    assert "br-mine" in refused_start(host)
    assert kernel_state(host) == before
    host.extra_args = ["--bridge", "berth1"]
    host.start()
    assert link(host, "berth0") is None
    assert link(host, "berth1").get("ifalias") == BRIDGE_ALIAS and addresses_of(host, "berth1") == gateway
    host.berth("run", "-d", "--name", "a", "busybox", "sleep", "600")
    assert any(master == "berth1" for _, kind, _, master in kernel_state(host)[0] if kind == "veth")
    # Its running containers' ports are on berth1: moving again is refused until they stop.
    host.stop()
    host.extra_args = ["--bridge", "berth2"]
    line = refused_start(host)
    assert "berth2" in line and "running containers" in line
    assert link(host, "berth2") is None and link(host, "berth1") is not None

"""What a test host's kernel holds, to show that a refused request changed nothing, and
how to wait for a daemon that must refuse to start."""
import json
import time

from harness import SPARE_ALIAS

BRIDGE_ALIAS = "berth bridge"


def kernel_state(host):
    """Links (name, kind, alias, master), addresses and routes of both families, without
    the spare ports berthd makes in the background (they carry no address or route)."""
    links = json.loads(host.sh("ip -d -j link show").stdout)
    names = {l["ifindex"]: l["ifname"] for l in links}
    kept = sorted((l["ifname"], l.get("linkinfo", {}).get("info_kind"), l.get("ifalias"),
                   names.get(l.get("master_index")) if "master_index" in l else l.get("master"))
                  for l in links if l.get("ifalias") != SPARE_ALIAS)
    # Without what the kernel adds by itself when a bridge gets carrier (IPv6 link-local
    # addresses, their routes, multicast routes) and route flags ("linkdown" comes and goes).
    addresses = sorted((a["ifname"], i["local"], i["prefixlen"])
                       for a in json.loads(host.sh("ip -j addr show").stdout)
                       if a.get("ifalias") != SPARE_ALIAS for i in a.get("addr_info", [])
                       if not i["local"].startswith("fe80:"))
    routes = sorted(json.dumps({k: v for k, v in r.items() if k != "flags"}, sort_keys=True) for family in ("-4", "-6")
                    for r in json.loads(host.sh(f"ip {family} -j route show table all").stdout)
                    if "veth" not in r.get("dev", "") and not r.get("dst", "").startswith(("fe80:", "ff00:"))
                    and r.get("type") != "multicast")
    return kept, addresses, routes


def link(host, name):
    """The link called `name` (`ip -d -j`), or None."""
    result = host.sh(f"ip -d -j link show dev {name}", check=False)
    return json.loads(result.stdout)[0] if result.returncode == 0 else None


def addresses_of(host, name):
    return sorted(f"{i['local']}/{i['prefixlen']}" for i in json.loads(host.sh(f"ip -j addr show dev {name}").stdout)[0]["addr_info"]
                  if i["family"] == "inet")


def ping(host):
    status, body = host.api("GET", "/_ping")
    assert status == 200 and body == "OK", f"the daemon stopped answering:\n{host.log()}"


def refused_start(host, timeout=20):
    """Starts berthd, which must exit non-zero by itself; returns its last log line."""
    host.start(wait=False)
    deadline = time.time() + timeout
    while host.daemon.poll() is None:
        assert time.time() < deadline, f"berthd did not refuse to start:\n{host.log()}"
        time.sleep(0.05)
    assert host.daemon.returncode != 0
    host.daemon = None
    return host.log().strip().splitlines()[-1]

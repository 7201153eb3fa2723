"""Living beside other firewalls (issue #15): what it costs berth, side by side in one run.

berth's rule in other tables is per host (one per drop-policy chain, added at start), so a
start on a host whose iptables and nft tables drop forwarded and incoming traffic should
cost what it costs on a bare host: two fresh idle daemons, one on each, are timed in
alternation. And `--published-ports host-firewall` relays published ports through berthd
instead of DNAT: its TCP throughput from a LAN client is measured against DNAT's.
"""
import time

from common import run
from engines import Berth
from scenarios import iperf, lan_client, scenario

# What Docker and ufw leave (iptables-nft's FORWARD and INPUT policies DROP, the host's own
# and established traffic let in) plus a user's own nft table whose chains drop by default.
HOST_FIREWALL = (
    "iptables -P FORWARD DROP && iptables -P INPUT DROP && iptables -A INPUT -i lo -j ACCEPT"
    " && iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
    " && iptables -A INPUT -p tcp --dport 5201 -j ACCEPT"
    " && nft add table inet userfw"
    " && nft add chain inet userfw fw '{ type filter hook forward priority 0; policy drop; }'"
)


class BareBerth(Berth):
    name = "berth-bare"


class FirewalledBerth(Berth):
    """berthd on a host with HOST_FIREWALL, publishing in host-firewall mode."""
    name = "berth-fw"

    def daemon_argv(self):
        return super().daemon_argv() + ["--published-ports", "host-firewall"]

    def start(self, timeout=60):
        if self.proc is None:
            run(["ip", "netns", "exec", self.netns, "sh", "-c", HOST_FIREWALL])
        super().start(timeout)


@scenario("coexist")
def coexist(ctx, runs=30):
    engines = []
    for kind in (BareBerth, FirewalledBerth):
        with ctx.guard("coexist", 1, kind.name):
            eng = kind(ctx.work, ctx.prefix + kind.name.replace("-", ""), ctx.cleanup, ctx.args.bin)
            eng.start()
            eng.import_image(f"{ctx.work}/busybox.tar")
            engines.append(eng)
    if len(engines) != 2:
        return
    system = {"berth-bare": "berth", "berth-fw": "berth-fw"}
    # Starts, alternating so that drift on the machine hits both alike.
    with ctx.guard("coexist", 1, "berth-fw"):
        samples = {eng.name: {"run": [], "attach": []} for eng in engines}
        for eng in engines:
            eng.cli("run", "-d", "--name", "probe", eng.image, "sleep", "100000")
            eng.cli("rm", "-f", "probe")
            eng.timings()
        for _ in range(runs):
            for eng in engines:
                samples[eng.name]["run"].append(eng.timed_cli("run", "-d", "--name", "probe", eng.image, "sleep", "100000"))
                eng.cli("rm", "-f", "probe")
        for eng in engines:
            samples[eng.name]["attach"] = [us / 1e6 for us in eng.timings()["attachMicroseconds"]]
        for eng in engines:
            ctx.record("coexist", 1, "run -d (CLI), bare host vs host with drop-policy firewalls", "ms",
                       system[eng.name], samples[eng.name]["run"])
            ctx.record("coexist", 1, "network setup (in-daemon), bare vs firewalled host", "ms",
                       system[eng.name], samples[eng.name]["attach"])
    # A published port from the LAN: DNAT (nat, the default) against the relay (host-firewall).
    for eng in engines:
        with ctx.guard("coexist", 2, system[eng.name], "TCP 1 stream, LAN -> published port: nat vs host-firewall relay"):
            client = lan_client(ctx, eng, eng.name[-2:])
            eng.cli("run", "-d", "--name", "ppsrv", "-p", "5201:5201", eng.image, "sleep", "100000")
            time.sleep(0.3)
            results = [iperf(ctx, eng.sandbox_key("ppsrv"), client, "198.51.100.1") for _ in range(3)]
            ctx.record("coexist", 2, "TCP 1 stream, LAN -> published port: nat vs host-firewall relay", "Gbit/s",
                       system[eng.name], results)
            eng.cli("rm", "-f", "ppsrv", check=False)

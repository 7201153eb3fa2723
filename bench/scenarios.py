"""The scenarios. Each is one function registered with @scenario; it measures berth and
whichever peers apply and hands samples to ctx.record(). A level scenario is called once
per host size N (0 = idle daemon) after ctx has filled the engines to N running
containers; a plain one is called once. To add a scenario, write a function here.

Anything berth cannot do yet (or any engine failing) becomes an `n/a` cell with the
reason, never a failed run.
"""
import json
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import os
import re

from common import netns_add, run, stats, wait_for
from overlay import RESOLVE_PING_PROBE, cluster_of, mtu, release_cluster
from peers import Aardvark

SCENARIOS = {}   # name -> (function, which levels it runs at, or None for a plain scenario)


def scenario(name, levels=None):
    def register(fn):
        SCENARIOS[name] = (fn, levels)
        return fn
    return register


# --- attach / detach ---------------------------------------------------------------

def memo(fn):
    """Runs fn(ctx, system, level) once, failure included: attach and detach share cycles."""
    def wrapper(ctx, system, level):
        key = (fn.__name__, system.name, level)
        if key not in ctx.cycles:
            try:
                ctx.cycles[key] = fn(ctx, system, level)
            except Exception as e:
                ctx.cycles[key] = e
        if isinstance(ctx.cycles[key], Exception):
            raise ctx.cycles[key]
        return ctx.cycles[key]
    return wrapper


@memo
def run_cycles(ctx, eng, level):
    """run -d / rm -f of a probe container on the busiest network (as docker_attach.py
    run_cycle); for berth also the daemon's own timings of the network part of each."""
    net = ctx.network_for(level - 1)
    n = 30 if eng.name == "berth" else 10   # a docker cycle costs ~0.3 s
    run_probe = ("run", "-d", "--name", "probe", "--network", net, eng.image, "sleep", "100000")
    eng.cli(*run_probe), eng.cli("rm", "-f", "probe")   # warm-up
    if eng.name == "berth":
        eng.timings()                                     # empties the daemon's windows
    s = {"run": [], "rm": []}
    for _ in range(n):
        s["run"].append(eng.timed_cli(*run_probe))
        s["rm"].append(eng.timed_cli("rm", "-f", "probe"))
    if eng.name == "berth":
        t = eng.timings()
        s["in_attach"] = [us / 1e6 for us in t["attachMicroseconds"]]
        s["in_detach"] = [us / 1e6 for us in t["detachMicroseconds"]]
    return s


@memo
def connect_cycles(ctx, eng, level):
    """connect/disconnect of a container parked on the default bridge to the busiest
    network, 20 times through the CLI and 20 through the API (as docker_attach.py)."""
    net = ctx.network_for(level - 1)
    if eng.name not in ctx.parked:
        eng.cli("run", "-d", "--name", "parked", eng.image, "sleep", "100000")
        ctx.parked.add(eng.name)
    eng.cli("network", "connect", net, "parked"), eng.cli("network", "disconnect", net, "parked")
    s = {"con": [], "dis": [], "acon": [], "adis": []}
    for _ in range(20):
        s["con"].append(eng.timed_cli("network", "connect", net, "parked"))
        s["dis"].append(eng.timed_cli("network", "disconnect", net, "parked"))
    for _ in range(20):
        s["acon"].append(eng.timed_api("POST", f"/networks/{net}/connect", {"Container": "parked"}))
        s["adis"].append(eng.timed_api("POST", f"/networks/{net}/disconnect", {"Container": "parked"}))
    return s


@memo
def peer_cycles(ctx, peer, level):
    peer.fill_to(level)
    return peer.probe(20)


KERNEL = {"attach": "network setup (in-daemon/plugin/netlink)", "detach": "network teardown (in-daemon/plugin/netlink)"}
ROWS = {  # metric -> (cycles, key of the samples)
    "attach": {"connect (API)": (connect_cycles, "acon"), "connect (CLI)": (connect_cycles, "con"),
               "run -d (CLI)": (run_cycles, "run")},
    "detach": {"disconnect (API)": (connect_cycles, "adis"), "disconnect (CLI)": (connect_cycles, "dis"),
               "rm -f (CLI)": (run_cycles, "rm")},
}


def attach_or_detach(ctx, level, what):
    for eng in ctx.engines(level):
        if eng.name == "berth":   # Docker's network part is not observable apart from its API call
            with ctx.guard(what, level, eng.name, KERNEL[what]):
                ctx.record(what, level, KERNEL[what], "ms", eng.name, run_cycles(ctx, eng, level)["in_" + what])
        for metric, (cycles, key) in ROWS[what].items():
            with ctx.guard(what, level, eng.name, metric):
                ctx.record(what, level, metric, "ms", eng.name, cycles(ctx, eng, level)[key])
    for peer in ctx.peers():
        with ctx.guard(what, level, peer.name, KERNEL[what]):
            ups, downs = peer_cycles(ctx, peer, level)
            ctx.record(what, level, KERNEL[what], "ms", peer.name, ups if what == "attach" else downs)


@scenario("attach", levels=lambda n: n >= 1)
def attach(ctx, level):
    attach_or_detach(ctx, level, "attach")


@scenario("detach", levels=lambda n: n >= 1)
def detach(ctx, level):
    attach_or_detach(ctx, level, "detach")


# --- memory and restart --------------------------------------------------------------

@scenario("memory", levels=lambda n: n != 1)
def memory(ctx, level):
    for eng in ctx.engines(level):
        rss = eng.rss()   # a daemon's own processes; the containers' are not counted
        daemon = sum(v for k, v in rss.items() if k != "shims")
        ctx.record("memory", level, "daemon RSS", "MB", eng.name, [daemon], extra=rss)
        ctx.record("memory", level, "daemon + per-container helpers RSS", "MB", eng.name, [sum(rss.values())])


@scenario("restart", levels=lambda n: n >= 100 and n != 500)
def restart(ctx, level):
    """SIGTERM, start again, until the API answers and `ps` lists every running container."""
    for eng in ctx.engines(level):
        with ctx.guard("restart", level, eng.name):
            expected = eng.running_count()
            totals, starts = [], []
            for _ in range(3 if eng.name == "berth" else 1):   # dockerd alone takes seconds to stop
                t0 = time.perf_counter()
                eng.stop(signal.SIGTERM, timeout=120)
                t1 = time.perf_counter()
                eng.start(timeout=120)
                if wait_for(lambda: eng.running_count() == expected, 120, 0.005) is None:
                    raise RuntimeError(f"{eng.name} lists {eng.running_count()} of {expected} after restart")
                t2 = time.perf_counter()
                totals.append(t2 - t0)
                starts.append(t2 - t1)
            ctx.record("restart", level, "SIGTERM -> _ping + ps lists all", "ms", eng.name, totals)
            ctx.record("restart", level, "start -> _ping + ps lists all", "ms", eng.name, starts)


# --- start/stop throughput --------------------------------------------------------------

@scenario("throughput")
def throughput(ctx, n=500, parallel=2):
    for eng in ctx.engines(0):
        with ctx.guard("throughput", n, f"run -d x{n}, {parallel} parallel", eng.name):
            names = [f"t{i:03d}" for i in range(n)]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(parallel) as pool:
                ups = list(pool.map(lambda c: eng.timed_cli("run", "-d", "--name", c, eng.image, "sleep", "100000"), names))
            t1 = time.perf_counter()
            with ThreadPoolExecutor(parallel) as pool:
                downs = list(pool.map(lambda c: eng.timed_cli("rm", "-f", c), names))
            t2 = time.perf_counter()
            ctx.record("throughput", n, f"run -d x{n}, {parallel} parallel: total", "s", eng.name, [t1 - t0],
                       extra=dict(per_call_ms=_ms(stats(ups))))
            ctx.record("throughput", n, f"rm -f x{n}, {parallel} parallel: total", "s", eng.name, [t2 - t1],
                       extra=dict(per_call_ms=_ms(stats(downs))))


# --- network create / rm ---------------------------------------------------------------

@scenario("network")
def network_lifecycle(ctx, n=20):
    """`network create` then `network rm` of a bridge network with an automatic subnet,
    n times in turn (as the peers' figures were taken: CLI wall time), and the same
    through the API."""
    for eng in ctx.engines(0):
        with ctx.guard("network", 0, "network create / rm", eng.name):
            eng.cli("network", "create", "bnwarm"), eng.cli("network", "rm", "bnwarm")
            creates, removes, api_creates, api_removes = [], [], [], []
            for i in range(n):
                creates.append(eng.timed_cli("network", "create", f"bn{i:02d}"))
                removes.append(eng.timed_cli("network", "rm", f"bn{i:02d}"))
            for i in range(n):
                api_creates.append(eng.timed_api("POST", "/networks/create", {"Name": f"bna{i:02d}"}))
                api_removes.append(eng.timed_api("DELETE", f"/networks/bna{i:02d}"))
            ctx.record("network", 0, "network create (CLI)", "ms", eng.name, creates)
            ctx.record("network", 0, "network rm (CLI)", "ms", eng.name, removes)
            ctx.record("network", 0, "network create (API)", "ms", eng.name, api_creates)
            ctx.record("network", 0, "network rm (API)", "ms", eng.name, api_removes)


def _ms(st):
    return {k: (round(v * 1000, 2) if k != "n" else v) for k, v in st.items()}


# --- data plane -------------------------------------------------------------------------

def iperf(ctx, server_ns, client_ns, server_ip):
    """Single-stream TCP Gbit/s from client to server, as dataplane.sh: the host's iperf3
    run inside each network namespace (a container's own, or a bare one)."""
    secs = ctx.args.iperf_seconds
    server = subprocess.Popen(["nsenter", f"--net={server_ns}", "iperf3", "-s", "-1", "-p", "5201"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        p = run(["nsenter", f"--net={client_ns}", "iperf3", "-c", server_ip, "-p", "5201", "-t", str(secs), "-J"],
                timeout=secs + 20)
        return json.loads(p.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9
    finally:
        server.kill()
        server.wait()


@scenario("dataplane")
def dataplane(ctx, runs=3):
    metric = "TCP 1 stream, container->container, one bridge"
    cases = []   # (system, metric, server namespace, client namespace, server address)
    for eng in ctx.engines(0):
        with ctx.guard("dataplane", 2, eng.name, metric):
            eng.cli("network", "create", "dpnet")
            for c in ("dp1", "dp2"):
                eng.cli("run", "-d", "--name", c, "--network", "dpnet", eng.image, "sleep", "100000")
            cases.append((eng.name, metric, eng.sandbox_key("dp1"), eng.sandbox_key("dp2"), eng.ip_of("dp1", "dpnet")))
    # The floors, in namespaces of their own: a plain Linux bridge (no firewall) between
    # two namespaces, and the same two joined by one bare veth pair.
    a, b, h = (f"{ctx.prefix}dp{x}" for x in "abh")
    netns_add(ctx.cleanup, [a, b, h])
    sh = lambda cmd: run(["sh", "-c", cmd])
    sh(f"ip -n {a} link add eth0 type veth peer name eth0 netns {b}"
       f" && ip -n {a} addr add 10.201.0.1/24 dev eth0 && ip -n {b} addr add 10.201.0.2/24 dev eth0"
       f" && ip -n {a} link set eth0 up && ip -n {b} link set eth0 up")
    sh(f"ip -n {h} link add br0 type bridge && ip -n {h} link set br0 up")
    for n, ip in ((a, "10.202.0.1"), (b, "10.202.0.2")):
        sh(f"ip -n {h} link add v{n[-1]} type veth peer name eth1 netns {n} && ip -n {h} link set v{n[-1]} master br0 up"
           f" && ip -n {n} addr add {ip}/24 dev eth1 && ip -n {n} link set eth1 up")
    cases.append(("floor", metric, f"/run/netns/{a}", f"/run/netns/{b}", "10.202.0.1"))
    cases.append(("floor", "TCP 1 stream, bare veth pair (floor)", f"/run/netns/{a}", f"/run/netns/{b}", "10.201.0.1"))
    # Round-robin, so that other load on the machine weighs on every case alike.
    results = {c: [] for c in cases}
    for _ in range(runs):
        for c in cases:
            with ctx.guard("dataplane", 2, c[0], c[1]):
                results[c].append(iperf(ctx, *c[2:]))
    for c, gbps in results.items():
        if gbps:
            ctx.record("dataplane", 2, c[1], "Gbit/s", c[0], gbps)
    for eng in ctx.engines(0):
        eng.cli("rm", "-f", "dp1", "dp2", check=False)
        eng.cli("network", "rm", "dpnet", check=False)


# --- DNS ------------------------------------------------------------------------------

DNS_NAMES = 300

# Reads names on stdin; for each, queries the server until the name resolves and prints the
# seconds from reading the line to the answer: run inside the client's namespace, it
# times how soon a container's name resolves after `run -d` returned.
RESOLVE_PROBE = r"""
import socket, struct, sys, time
server = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
for line in sys.stdin:
    name = line.strip(); t0 = time.perf_counter(); qid = 0
    while True:
        qid = (qid + 1) & 0xffff
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + bytes([len(name)]) + name.encode() + b"\0" + struct.pack(">HH", 1, 1)
        s.sendto(q, (server, 53))
        try:
            r = s.recv(4096)
        except socket.timeout:
            continue
        if struct.unpack(">H", r[6:8])[0] > 0:
            break
        if time.perf_counter() - t0 > 5:
            break
    print(f"{time.perf_counter() - t0:.7f}", flush=True)
"""


def dnsperf(ctx, netns_argv, server):
    """dnsperf -c 1 -q 100 for `--dns-seconds`, from inside a namespace: queries/s, the
    mean latency it reports (s), and what it says of lost queries and answer codes."""
    out = run([*netns_argv, "dnsperf", "-s", server, "-d", os.path.join(ctx.peers_dir, "queries.txt"),
               "-c", "1", "-q", "100", "-l", str(ctx.args.dns_seconds)], timeout=120).stdout
    qps = float(re.search(r"Queries per second:\s+([0-9.]+)", out).group(1))
    mean = float(re.search(r"Average Latency \(s\):\s+([0-9.]+)", out).group(1))
    lost = re.search(r"Queries lost:\s+([0-9,]+)", out)
    noerror = re.search(r"NOERROR [0-9,]+ \(([0-9.]+)%\)", out)
    if not noerror or float(noerror.group(1)) < 99:
        raise RuntimeError(f"dnsperf at {server}: under 99% NOERROR answers: "
                           + " ".join(re.findall(r"Response codes:.*", out)))
    return qps, mean, dict(lost=int(lost.group(1).replace(",", "")) if lost else None, noerror_pct=float(noerror.group(1)))


def serial_latency(ctx, netns_argv, server, n=3000):
    """One query outstanding at a time, as shared/peers/dnslat.py measures: every latency
    in seconds (kept, rather than dnslat's summary, for median and p99). Fails if more
    than 1% of the answers do not match the query or carry no address."""
    code = f"""
import socket, struct, time
names = [l.split()[0] for l in open({os.path.join(ctx.peers_dir, 'queries.txt')!r}) if l.strip()]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.connect(({server!r}, 53))
out, bad = [], 0
for i in range({n}):
    n = names[i % len(names)]
    q = struct.pack('>HHHHHH', i & 0xffff, 0x100, 1, 0, 0, 0) + bytes([len(n)]) + n.encode() + bytes(1) + struct.pack('>HH', 1, 1)
    t = time.perf_counter(); s.send(q); r = s.recv(4096); out.append(time.perf_counter() - t)
    if struct.unpack('>H', r[:2])[0] != i & 0xffff or struct.unpack('>H', r[6:8])[0] < 1:
        bad += 1
print(bad, ' '.join('%.7f' % x for x in out))
"""
    words = run([*netns_argv, "python3", "-c", code], timeout=120).stdout.split()
    if int(words[0]) > n // 100:
        raise RuntimeError(f"serial queries at {server}: {words[0]} of {n} without a matching answer")
    return [float(x) for x in words[1:]]


DNS_QUERIES = "DNS queries/s (dnsperf -c1 -q100, 300 names)"
DNS_MEAN = "DNS mean latency under that load (dnsperf)"
DNS_SERIAL = "DNS serial latency, one query outstanding"
DNS_LATE = "name resolvable after run -d returns"


def _measure_dns(ctx, system, argv, server, extra=None):
    qps, mean_s, info = dnsperf(ctx, argv, server)
    info.update(extra or {})
    ctx.record("dns", DNS_NAMES, DNS_QUERIES, "q/s", system, [qps], extra=info)
    ctx.record("dns", DNS_NAMES, DNS_MEAN, "ms", system, [mean_s])
    ctx.record("dns", DNS_NAMES, DNS_SERIAL, "ms", system, serial_latency(ctx, argv, server))


def _engine_dns(ctx, eng, afterwards):
    """300 containers fill001..fill300 on one user network and a client on it; the client's
    namespace queries the engine's DNS: berth's at the network's gateway, Docker's embedded
    DNS at 127.0.0.11 (inside each container's namespace, dockerd redirects 127.0.0.11:53
    to a socket of its own there with iptables NAT rules in that namespace: it does so with
    --iptables=false too, which only concerns the rules on the host side)."""
    for metric in (DNS_QUERIES, DNS_MEAN, DNS_SERIAL, DNS_LATE):   # the table's order
        ctx.row("dns", DNS_NAMES, metric, "q/s" if metric == DNS_QUERIES else "ms")
    eng.cli("network", "create", "--subnet", "10.93.0.0/22", "dnsnet")
    fills = [f"fill{i:03d}" for i in range(1, DNS_NAMES + 1)]
    late = [f"late{i}" for i in range(20)]
    if eng.name == "docker":
        afterwards.append(lambda: _remove_docker_dns(eng, [*fills, "dnscli", *late]))
    started = eng.fill([(c, "dnsnet") for c in fills], time.monotonic() + 300)
    if started < DNS_NAMES:
        raise RuntimeError(f"{eng.name}: only {started} of {DNS_NAMES} containers started within 300 s")
    # Docker: a nameserver that answers nothing (TEST-NET) behind the embedded DNS, so a
    # name it does not know is never sent to the real host's resolvers.
    dns_opt = ("--dns", "192.0.2.53") if eng.name == "docker" else ()
    eng.cli("run", "-d", "--name", "dnscli", "--network", "dnsnet", *dns_opt, eng.image, "sleep", "100000")
    argv = ["nsenter", f"--net={eng.sandbox_key('dnscli')}"]
    server = "127.0.0.11" if eng.name == "docker" else "10.93.0.1"
    extra = {}
    if eng.name == "docker":
        # Where dockerd put its redirect: NAT rules in the client's own namespace (kept in the JSON).
        nat = run([*argv, "iptables", "-t", "nat", "-S"], check=False).stdout
        extra["redirect_in_client_namespace"] = [l for l in nat.splitlines() if "127.0.0.11" in l]
    _measure_dns(ctx, eng.name, argv, server, extra)
    # How soon a new container's name resolves at a peer once `run -d` returned.
    probe = subprocess.Popen([*argv, "python3", "-c", RESOLVE_PROBE, server], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    delays = []
    try:
        for name in late:
            eng.cli("run", "-d", "--name", name, "--network", "dnsnet", eng.image, "sleep", "100000")
            probe.stdin.write(f"{name}\n")
            probe.stdin.flush()
            delays.append(float(probe.stdout.readline()))
            if delays[-1] > 5:
                raise RuntimeError(f"{name} did not resolve at {server} within 5 s of run -d")
    finally:
        probe.stdin.close()
        probe.wait(timeout=10)
    ctx.record("dns", DNS_NAMES, DNS_LATE, "ms", eng.name, delays)


def _remove_docker_dns(eng, names):
    """Docker's 321 containers (a shim of ~13 MB each) would weigh on every later scenario
    and be counted in its memory rows: removed once the scenario is done (berth's stay, as
    before), then a wait until the kernel has deleted their namespaces (their veths gone
    from dockerd's namespace), so that the work does not fall on what is measured next."""
    for i in range(0, len(names), 50):
        eng.cli("rm", "-f", *names[i:i + 50], check=False, timeout=300)
    eng.cli("network", "rm", "dnsnet", check=False)
    veths = lambda: sum(1 for l in run(["ip", "-n", eng.netns, "-o", "link", "show", "type", "veth"]).stdout.splitlines())
    wait_for(lambda: veths() <= eng.running_count(), 120, 0.5)   # one veth per running container


@scenario("dns")
def dns(ctx):
    afterwards = []   # removals once every system is measured: tearing 300 namespaces down loads the kernel
    try:
        for eng in ctx.engines(0):
            with ctx.guard("dns", DNS_NAMES, eng.name):   # a failure: n/a in each of the engine's rows left
                _engine_dns(ctx, eng, afterwards)
        if not ctx.args.no_peers:
            with ctx.guard("dns", DNS_NAMES, "aardvark", DNS_QUERIES):
                peer = Aardvark(ctx.work, ctx.prefix + "av", ctx.cleanup)
                peer.fill_to(DNS_NAMES)
                client = peer.attach_client()
                _measure_dns(ctx, "aardvark", ["ip", "netns", "exec", client], "10.92.0.1")
    finally:
        for fn in afterwards:
            fn()


# --- published ports --------------------------------------------------------------------

def _median(values):
    return sorted(values)[len(values) // 2]


@scenario("published-ports")
def published_ports(ctx, runs=8, probe_runs=20):
    """What publishing costs: run -d with 100 ports against run -d with none; the start of a
    container with one port on an empty host and with 1,000 ports and 500 containers on it;
    and TCP from a LAN client through a published port against container to container."""
    for eng in ctx.engines(0):
        with ctx.guard("published-ports", 100, eng.name, "run -d, 100 published ports"):
            plain, ported = [], []
            for i in range(runs):
                plain.append(eng.timed_cli("run", "-d", "--name", f"pp{i}", eng.image, "sleep", "100000"))
                ported.append(eng.timed_cli("run", "-d", "--name", f"pq{i}", "-p", "20000-20099:20000-20099",
                                            eng.image, "sleep", "100000"))
                eng.cli("rm", "-f", f"pp{i}", f"pq{i}")
            ctx.record("published-ports", 100, "run -d, no published ports", "ms", eng.name, plain)
            ctx.record("published-ports", 100, "run -d, 100 published ports", "ms", eng.name, ported)
            ctx.record("published-ports", 100, "added by 100 ports (median difference)", "ms", eng.name,
                       [max(0.0, _median(ported) - _median(plain))])
    for eng in ctx.engines(0):
        if eng.name != "berth":
            ctx.na("published-ports", 500, "run -d -p 1 port, 500 containers + 1,000 ports on the host", eng.name,
                   "not filled: 500 containers and 1,000 docker-proxy processes exceed the run's time budget")
            continue
        with ctx.guard("published-ports", 500, eng.name):
            one_port = ("-p", "30999:80")
            # More runs than elsewhere: the two medians are compared within 10%, and a
            # single run -d varies by about that much.
            def probe_starts():
                samples = []
                for _ in range(probe_runs):
                    samples.append(eng.timed_cli("run", "-d", "--name", "probe", *one_port, eng.image, "sleep", "100000"))
                    eng.cli("rm", "-f", "probe")
                return samples
            first = probe_starts()
            eng.cli("network", "create", "ppnet")
            for i in range(10):
                low = 21000 + 100 * i
                eng.cli("run", "-d", "--name", f"pf{i}", "--network", "ppnet", "-p", f"{low}-{low + 99}:{low}-{low + 99}",
                        eng.image, "sleep", "100000")
            eng.fill([(f"pg{i}", "ppnet") for i in range(490)], deadline=time.monotonic() + 300)
            full = probe_starts()
            ctx.record("published-ports", 1, "run -d -p 1 port, empty host", "ms", eng.name, first)
            ctx.record("published-ports", 500, "run -d -p 1 port, 500 containers + 1,000 ports on the host", "ms",
                       eng.name, full, extra=dict(ratio_to_empty=round(_median(full) / _median(first), 3)))
            names = [f"pf{i}" for i in range(10)] + [f"pg{i}" for i in range(490)]
            for i in range(0, len(names), 50):
                eng.cli("rm", "-f", *names[i:i + 50], check=False, timeout=300)
            eng.cli("network", "rm", "ppnet", check=False)
    # Throughput: a LAN client namespace on each engine's host reaches a published port.
    for eng in ctx.engines(0):
        with ctx.guard("published-ports", 2, eng.name, "TCP 1 stream, LAN client -> published port"):
            lan = lan_client(ctx, eng, eng.name[:2])
            eng.cli("run", "-d", "--name", "ppsrv", "-p", "5201:5201", eng.image, "sleep", "100000")
            eng.cli("run", "-d", "--name", "ppcli", eng.image, "sleep", "100000")
            server_ns = eng.sandbox_key("ppsrv")
            through_port, direct = [], []
            for _ in range(3):
                through_port.append(iperf(ctx, server_ns, lan, "198.51.100.1"))
                direct.append(iperf(ctx, server_ns, eng.sandbox_key("ppcli"), eng.ip_of("ppsrv", "bridge")))
            ctx.record("published-ports", 2, "TCP 1 stream, LAN client -> published port", "Gbit/s", eng.name, through_port,
                       extra=dict(ratio_to_container_to_container=round(_median(through_port) / _median(direct), 3)))
            ctx.record("published-ports", 2, "TCP 1 stream, container -> container (same bridge)", "Gbit/s", eng.name, direct)
            eng.cli("rm", "-f", "ppsrv", "ppcli", check=False)


def lan_client(ctx, eng, tag):
    """A LAN client namespace on the engine's host: 198.51.100.2, the host 198.51.100.1.
    Returns the namespace's file."""
    lan = f"{ctx.prefix}lan{tag}"
    netns_add(ctx.cleanup, [lan])
    run(["sh", "-c", f"ip -n {eng.netns} link add benchlan type veth peer name lan netns {lan}"
                     f" && ip -n {eng.netns} addr add 198.51.100.1/24 dev benchlan && ip -n {eng.netns} link set benchlan up"
                     f" && ip -n {lan} addr add 198.51.100.2/24 dev lan && ip -n {lan} link set lan up"
                     f" && ip -n {lan} link set lo up"])
    return f"/run/netns/{lan}"


# --- multi-host overlay -------------------------------------------------------------------
# Both scenarios share one throwaway cluster (bench/overlay.py): two berthd and two dockerd
# 20.10 nodes in cluster mode on an underlay bridge, etcd, and the hand-built VXLAN floor.

def _has_network(node, name):
    try:
        return node.api("GET", f"/networks/{name}", timeout=5)[0] == 200
    except OSError:   # a daemon busy with its store may not answer within 5 s: ask again
        return False


def _cluster(ctx, scenario, size, metric):
    """The run's cluster, or None with n/a cells when it cannot be built."""
    try:
        return cluster_of(ctx)
    except Exception as e:
        reason = "cluster set-up failed: " + (str(e).strip().splitlines() or [type(e).__name__])[0][:140]
        print(f"  {scenario}: {reason}", flush=True)
        for system in ("berth", "docker", "floor") if scenario == "overlay" else ("berth", "docker"):
            ctx.na(scenario, size, metric, system, reason)
        return None


def _cluster_na(ctx, scenario, size, metric, cl):
    for system, reason in cl.broken.items():
        if system != "floor" or scenario == "overlay":
            ctx.na(scenario, size, metric, system, reason)


@scenario("overlay")
def overlay(ctx, runs=7):
    """Single-stream TCP between two containers on different nodes, over each engine's
    overlay, against a hand-built VXLAN tunnel between two bare namespaces on the same
    underlay; the cases in turn, as `dataplane`."""
    metric = "TCP 1 stream, container->container, two nodes (VXLAN)"
    cl = _cluster(ctx, "overlay", 2, metric)
    if cl is None:
        return
    _cluster_na(ctx, "overlay", 2, metric, cl)
    cases = []   # (system, server namespace, client namespace, server address)
    mtus = {}
    for system, n1, n2 in cl.working():
        with ctx.guard("overlay", 2, system, metric):
            n1.cli("network", "create", "-d", "overlay", "--subnet", "10.210.0.0/24", "dpov")
            if wait_for(lambda: _has_network(n2, "dpov"), 30) is None:
                raise RuntimeError("the overlay did not appear on node2 within 30 s")
            n1.cli("run", "-d", "--name", "dpa", "--network", "dpov", n1.image, "sleep", "100000")
            n2.cli("run", "-d", "--name", "dpb", "--network", "dpov", n2.image, "sleep", "100000")
            server, client, ip = n1.sandbox_key("dpa"), n2.sandbox_key("dpb"), n1.ip_of("dpa", "dpov")
            ping = lambda: run(["nsenter", f"--net={client}", "ping", "-c", "1", "-W", "1", ip], check=False).returncode == 0
            if wait_for(ping, 15, 0.1) is None:
                raise RuntimeError(f"{ip} on node1 does not answer ping from node2")
            mtus[system] = mtu(client)
            cases.append((system, server, client, ip))
    if cl.floor:
        cases.append(("floor", *cl.floor))
        mtus["floor"] = mtu(cl.floor[1])
    results = {c: [] for c in cases}
    for _ in range(runs):
        for c in cases:
            with ctx.guard("overlay", 2, c[0], metric):
                results[c].append(iperf(ctx, *c[1:]))
    # Rounds run back to back, so the ratio of each round's pair moves less with other load
    # on the machine than the ratio of the medians does.
    floor = next((g for c, g in results.items() if c[0] == "floor"), [])
    for c, gbps in results.items():
        if gbps:
            extra = dict(container_mtu=mtus.get(c[0]), runs=[round(g, 3) for g in gbps])
            if c[0] != "floor" and len(floor) == len(gbps):
                extra["per_round_ratio_to_floor_median"] = round(_median([g / f for g, f in zip(gbps, floor)]), 3)
            ctx.record("overlay", 2, metric, "Gbit/s", c[0], gbps, extra=extra)
    for system, n1, n2 in cl.working():
        n1.cli("rm", "-f", "dpa", check=False), n2.cli("rm", "-f", "dpb", check=False)
        n1.cli("network", "rm", "dpov", check=False)
    release_cluster(ctx, "overlay")


class LinkWatch:
    """`ip -ts monitor link` in a node's namespace: the wall-clock time the kernel first
    reported each line, so device creation is timed without polling the daemon."""

    def __init__(self, netns):
        import threading
        self.lines = []   # (time.time() of the message, text)
        self.proc = subprocess.Popen(["ip", "-n", netns, "-ts", "monitor", "link"], stdout=subprocess.PIPE, text=True)
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        import datetime
        for line in self.proc.stdout:
            m = re.match(r"\[(\S+?)\]\s*(.*)", line)
            if m:   # "[2026-11-25T09:40:01.123456] 7: vx-...: <...,UP,...> ... master ov-..."
                t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
                self.lines.append((t, m.group(2)))

    def first(self, pred, timeout=5):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            for t, text in list(self.lines):
                if pred(text):
                    return t
            time.sleep(0.005)
        return None

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@scenario("multihost")
def multihost(ctx, reps=20, size=2):
    """How soon node2 can use what node1 just made: an overlay network (in node2's API; its
    bridge and VXLAN device), and a container (its name resolves at node2's embedded DNS
    and it answers ping from a container on node2)."""
    create, visible, devices = ("overlay create on node1 (CLI)", "overlay in node2's API after create returns",
                                "overlay devices up on node2 after create returns")
    resolved, pinged = ("node1 container's name resolves on node2 after run -d", "... and answers ping from node2")
    for metric in (create, visible, devices, "run -d on node1 (CLI)", resolved, pinged):   # the table's order
        ctx.row("multihost", size, metric, "ms")
    cl = _cluster(ctx, "multihost", size, create)
    if cl is None:
        return
    for metric in (create, resolved):
        _cluster_na(ctx, "multihost", size, metric, cl)
    for system, n1, n2 in cl.working():
        with ctx.guard("multihost", size, system, create):
            watch = LinkWatch(n2.netns) if system == "berth" else None
            try:
                s = {create: [], visible: [], devices: [], "signed": [], "from_start": []}
                names = [f"mh{i:02d}" for i in range(reps + 1)]
                for i, name in enumerate(names):   # the first is a warm-up
                    t0 = time.perf_counter()
                    out = n1.cli("network", "create", "-d", "overlay", name).stdout.strip()
                    t1, wall = time.perf_counter(), time.time()
                    if wait_for(lambda: _has_network(n2, name), 10, 0.001) is None:
                        raise RuntimeError(f"{name} not in node2's API 10 s after create")
                    t2 = time.perf_counter()
                    if i == 0:
                        continue
                    s[create].append(t1 - t0)
                    s[visible].append(t2 - t1)
                    if watch:
                        short = out[:12]
                        # berth makes the overlay's namespace, its bridge and VXLAN device first
                        # and raises the host's end of the gateway pair last: with carrier
                        # (LOWER_UP), the peer on the namespace's bridge is up too.
                        seen = watch.first(lambda l: f"ov-{short}@" in l
                                           and re.search(r"<[^>]*\bUP\b[^>]*\bLOWER_UP\b", l))
                        if seen is None:
                            raise RuntimeError(f"ov-{short} not up with carrier on node2 5 s after create")
                        s[devices].append(max(0.0, seen - wall))   # 0: up before the CLI had exited
                        s["signed"].append(seen - wall)
                        s["from_start"].append(seen - wall + (t1 - t0))
                ctx.record("multihost", size, create, "ms", system, s[create])
                ctx.record("multihost", size, visible, "ms", system, s[visible])
                if watch:
                    ctx.record("multihost", size, devices, "ms", system, s[devices],
                               extra=dict(signed_ms=_ms(stats(s["signed"])), from_create_start_ms=_ms(stats(s["from_start"]))))
                else:
                    ctx.na("multihost", size, devices, system, "Docker 20.10 makes an overlay's devices on a node only "
                           "when a container there joins it (in a namespace of its own)")
            finally:
                if watch:
                    watch.stop()
                for name in names:
                    n1.cli("network", "rm", name, check=False)
        with ctx.guard("multihost", size, system, resolved):
            _container_visible(ctx, system, n1, n2, reps, size, resolved, pinged)
    release_cluster(ctx, "multihost")


def _container_visible(ctx, system, n1, n2, reps, size, resolved, pinged):
    n1.cli("network", "create", "-d", "overlay", "--subnet", "10.211.0.0/24", "mhc")
    try:
        if wait_for(lambda: _has_network(n2, "mhc"), 10) is None:
            raise RuntimeError("mhc not on node2 within 10 s")
        n2.cli("run", "-d", "--name", "mhcli", "--network", "mhc", n2.image, "sleep", "100000")
        if system == "berth":
            conf = n2.cli("exec", "mhcli", "cat", "/etc/resolv.conf").stdout
            server = re.search(r"^nameserver\s+(\S+)", conf, re.M).group(1)
        else:
            server = "127.0.0.11"   # Docker's embedded DNS, redirected in the container's namespace
        probe = subprocess.Popen(["nsenter", f"--net={n2.sandbox_key('mhcli')}", "python3", "-c", RESOLVE_PING_PROBE, server],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        s = {"run": [], resolved: [], pinged: []}
        try:
            for i in range(reps + 1):   # the first is a warm-up, with more time
                name, limit = f"mhr{i:02d}", 10 if i else 30
                t = n1.timed_cli("run", "-d", "--name", name, "--network", "mhc", n1.image, "sleep", "100000")
                probe.stdin.write(f"{name} {limit}\n")
                probe.stdin.flush()
                answer = probe.stdout.readline().split()
                if answer == ["noname"]:
                    raise RuntimeError(f"{name} (run -d on node1, repetition {i}) did not resolve at node2 within {limit} s")
                if answer == ["noping"]:
                    raise RuntimeError(f"{name} (run -d on node1, repetition {i}) resolved, did not answer ping from node2 "
                                       f"within {limit} s")
                if i:
                    s["run"].append(t)
                    s[resolved].append(float(answer[0]))
                    s[pinged].append(float(answer[1]))
        finally:
            probe.stdin.close()
            probe.kill()
            probe.wait()
        ctx.record("multihost", size, "run -d on node1 (CLI)", "ms", system, s["run"])
        ctx.record("multihost", size, resolved, "ms", system, s[resolved])
        ctx.record("multihost", size, pinged, "ms", system, s[pinged])
    finally:
        n1.cli("rm", "-f", *[f"mhr{i:02d}" for i in range(reps + 1)], check=False, timeout=300)
        n2.cli("rm", "-f", "mhcli", check=False)
        n1.cli("network", "rm", "mhc", check=False)

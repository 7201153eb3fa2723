#!/usr/bin/env python3
"""berth's benchmark: berth and its peers (Docker, netavark, CNI, the kernel floor)
measured side by side in one run. Start it with bench/run; see bench/README.md."""
import argparse
import contextlib
import datetime
import json
import os
import platform
import signal
import sys
import time
import uuid

from common import Cleanup, host_snapshot, run, stats
from engines import Berth, Docker
from peers import CNI, Floor, Netavark
from scenarios import SCENARIOS
import coexist  # noqa: F401  registers the coexist scenario
import antispoof  # noqa: E402,F401  registers the `antispoof` scenario

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# shared/ sits beside the repository; nlfloor.c is compiled from there at run time.
PEERS_DIR = os.path.normpath(os.path.join(REPO, "..", "shared", "peers"))
PER_NETWORK = 500    # containers per user network: a Linux bridge takes at most 1,024 ports
COLUMNS = ["berth", "docker", "netavark", "cni", "aardvark", "floor"]

# Targets from the issues, checked on berth's median at the sizes N they name:
# (scenario, metric prefix, sizes, test, text).
TARGETS = [
    ("attach", "network setup", lambda n: True, lambda v: v <= 2.0, "p50 <= 2 ms"),
    ("detach", "disconnect (API)", lambda n: True, lambda v: v <= 2.0, "p50 <= 2 ms (caller)"),
    ("memory", "daemon RSS", lambda n: n >= 100, lambda v: v <= 50, "<= 50 MB"),
    ("restart", "SIGTERM", lambda n: n == 1000, lambda v: v <= 1000, "<= 1 s"),
    ("dns", "name resolvable", lambda n: True, lambda v: v <= 5, "<= 5 ms"),
    ("published-ports", "added by 100 ports", lambda n: True, lambda v: v <= 5, "<= 5 ms"),
]

# Targets on berth's p99: (scenario, metric prefix, limit in the row's unit, text).
P99_TARGETS = [
    ("multihost", "overlay devices up on node2", 50, "p99 <= 50 ms"),
    ("multihost", "... and answers ping", 100, "p99 <= 100 ms"),
]


class Bench:
    """What a run shares: work directory, cleanup stack, engines, peers, results."""

    def __init__(self, args):
        self.args = args
        self.id = uuid.uuid4().hex[:6]
        self.prefix = f"bb{self.id}"           # every namespace name starts with this
        self.peers_dir = PEERS_DIR
        self.work = f"/tmp/berth-bench-{self.id}"
        self.cleanup = Cleanup()
        self.rows = {}                         # (scenario, size, metric) -> row
        self.cycles, self.parked = {}, set()   # memoized probe cycles; engines with a parked container
        self._engines, self._peers = None, None
        self.broken = {}                       # engine name -> why it cannot go on
        self.filled = {}                       # engine name -> containers started by fill
        self.fill_time = {}                    # engine name -> seconds spent filling
        self.seconds = {}                      # scenario[@size] -> seconds it took

    # --- results ---------------------------------------------------------------------
    def row(self, scenario, size, metric, unit="-"):
        key = (scenario, size, metric)
        if key not in self.rows:
            self.rows[key] = dict(scenario=scenario, size=size, metric=metric, unit=unit, results={})
        return self.rows[key]

    def record(self, scenario, size, metric, unit, system, samples, extra=None):
        """Samples are seconds for unit ms or s, else already in the unit."""
        scale = 1000 if unit == "ms" else 1
        st = {k: (round(v * scale, 3) if k != "n" else v) for k, v in stats(samples).items()}
        if extra:
            st["extra"] = extra
        row = self.row(scenario, size, metric, unit)
        row["unit"] = unit
        row["results"][system] = st
        print(f"  {scenario:10} {size!s:>5} {metric:45} {system:9} median {st['median']:10.3f} {unit:6} p99 {st['p99']:10.3f}",
              flush=True)

    def na(self, scenario, size, metric, system, reason):
        self.row(scenario, size, metric)["results"][system] = dict(na=reason)

    @contextlib.contextmanager
    def guard(self, scenario, size, system, metric=None):
        """Turns a failure of one system in one scenario into n/a cells with the reason."""
        try:
            yield
        except Exception as e:
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
            print(f"  {scenario} {size} {system}: n/a: {reason}", flush=True)
            rows = [r for r in self.rows.values() if r["scenario"] == scenario and r["size"] == size]
            if metric or not rows:
                rows = [self.row(scenario, size, metric or "(all)")]
            for r in rows:
                r["results"].setdefault(system, dict(na=reason))

    # --- systems -----------------------------------------------------------------------
    def start_engines(self):
        tarball = os.path.join(self.work, "busybox.tar")
        run(["bash", os.path.join(REPO, "scripts", "make-busybox-image.sh"), tarball])
        self._engines = []
        kinds = [("berth", lambda: Berth(self.work, self.prefix + "berth", self.cleanup, self.args.bin))]
        if not self.args.no_docker:
            kinds.append(("docker", lambda: Docker(self.work, self.prefix + "docker", self.cleanup, self.id)))
        for name, make in kinds:
            try:
                eng = make()
                eng.start()
                eng.import_image(tarball)
                print(f"{name}: pid {eng.proc.pid}, namespace {eng.netns}, cgroup {eng.cgroup}", flush=True)
                self._engines.append(eng)
                self.filled[name] = 0
            except Exception as e:
                self.broken[name] = f"could not start: {str(e).strip().splitlines()[0][:120]}"
                print(f"{name}: {self.broken[name]}", flush=True)

    def engines(self, level):
        """The engines that hold `level` fill containers and still run."""
        out = []
        for eng in self._engines:
            if eng.name in self.broken:
                continue
            if eng.proc is None or eng.proc.poll() is not None:
                self.broken[eng.name] = "daemon died: " + eng.log_tail().strip()[-120:]
            elif self.filled[eng.name] >= level:
                out.append(eng)
        return out

    def network_for(self, index):
        return f"bnet{index // PER_NETWORK}"

    def fill(self, level):
        """Brings every engine to `level` running containers, PER_NETWORK a network. berth is
        always filled; another engine (Docker) gets --fill-budget seconds of filling in all,
        and does not start a size that its rate so far says would not fit."""
        for eng in self._engines:
            have, spent = self.filled[eng.name], self.fill_time.get(eng.name, 0.0)
            if eng.name in self.broken or have >= level:
                continue
            budget = float("inf") if eng.name == "berth" else self.args.fill_budget
            need = 1.5 * (level - have) * spent / have if have else 0   # starts slow down as the host fills
            if spent + need > budget:
                self.broken[eng.name] = (f"measured up to {have} containers: {level} would need ~{need:.0f} s more "
                                         f"filling, over the {budget:.0f} s fill budget")
                print(f"{eng.name}: {self.broken[eng.name]}", flush=True)
                continue
            try:
                for n in range(-(-have // PER_NETWORK), -(-level // PER_NETWORK)):
                    eng.cli("network", "create", f"bnet{n}")
                t0 = time.monotonic()
                todo = [(f"f{i:04d}", self.network_for(i)) for i in range(have, level)]
                started = eng.fill(todo, t0 + budget - spent)
                self.fill_time[eng.name] = spent + time.monotonic() - t0
                self.seconds[f"fill {eng.name}@{level}"] = round(time.monotonic() - t0, 1)
                self.filled[eng.name] = have + started
                print(f"{eng.name}: {have + started} containers (+{started} in {time.monotonic() - t0:.1f} s)", flush=True)
                if started < len(todo):
                    self.broken[eng.name] = f"fill stopped at {have + started} containers (fill budget or memory)"
            except Exception as e:
                self.broken[eng.name] = f"fill to {level} failed: {str(e).strip().splitlines()[0][:120]}"
            if eng.name in self.broken:
                print(f"{eng.name}: {self.broken[eng.name]}", flush=True)

    def fill_peers(self, level):
        """Fills the peers too before anything is measured at this size, so that every
        system is timed on a kernel holding as many namespaces and links."""
        for peer in self.peers():
            t0 = time.monotonic()
            try:
                peer.fill_to(level)
            except Exception as e:   # peer_cycles tries again and reports n/a
                print(f"{peer.name}: fill to {level} failed: {str(e).strip().splitlines()[0][:120]}", flush=True)
            self.seconds[f"fill {peer.name}@{level}"] = round(time.monotonic() - t0, 1)

    def peers(self):
        if self._peers is None:
            self._peers = []
            if not self.args.no_peers:
                makers = [lambda: Netavark(self.work, self.prefix + "nv", self.cleanup),
                          lambda: CNI(self.work, self.prefix + "cn", self.cleanup),
                          lambda: Floor(self.work, self.prefix + "fl", self.cleanup, os.path.join(PEERS_DIR, "nlfloor.c"))]
                for name, make in zip(("netavark", "cni", "floor"), makers):
                    try:
                        self._peers.append(make())
                    except Exception as e:
                        self.broken[name] = f"unavailable: {str(e).strip().splitlines()[0][:160]}"
                        print(f"{name}: {self.broken[name]}", flush=True)
        return self._peers

    # --- running ----------------------------------------------------------------------
    def run(self, names):
        os.makedirs(self.work)
        self.cleanup.defer("work directory", lambda: run(["rm", "-rf", self.work]))
        self.start_engines()
        plain = [n for n in names if SCENARIOS[n][1] is None]
        levelled = [n for n in names if SCENARIOS[n][1] is not None]
        levels = sorted({0, *self.args.levels})
        # Idle first (level 0), then the scenarios that want an empty host, then the rest
        # while the host fills up: one fill serves every level scenario.
        for level in levels:
            wanted = [n for n in levelled if SCENARIOS[n][1](level)]
            if level > 0 and wanted:
                self.fill(level)
                if {"attach", "detach"} & set(wanted):
                    self.fill_peers(level)
                for eng in self._engines:
                    if eng.name in self.broken:
                        for n in wanted:
                            self.na(n, level, "(all)", eng.name, self.broken[eng.name])
            for n in wanted:
                self.timed_scenario(n, level)
            if level == 0:
                for n in plain:
                    self.timed_scenario(n)

    def timed_scenario(self, name, *level):
        print(f"== {name} {' '.join(map(str, level))}", flush=True)
        t0 = time.monotonic()
        SCENARIOS[name][0](self, *level)
        key = f"{name}@{level[0]}" if level else name
        self.seconds[key] = round(time.monotonic() - t0, 1)


def cell(row, system):
    r = row["results"].get(system)
    if r is None:
        return ""
    if "na" in r:
        return "n/a"
    fmt = (lambda v: f"{v:.2f}") if row["unit"] != "MB" else (lambda v: f"{v:.1f}")
    worst = r["min"] if row["unit"] == "Gbit/s" else r["p99"]   # the bad tail of a throughput is its low end
    text = fmt(r["median"]) if r["n"] == 1 else f"{fmt(r['median'])}/{fmt(worst)}"
    base = row["results"].get("berth")
    if system != "berth" and base and "na" not in base and base["median"] > 0:
        text += f" x{r['median'] / base['median']:.2f}"
    return text


def target_of(row):
    for scenario, prefix, sizes, test, text in TARGETS:
        if row["scenario"] == scenario and row["metric"].startswith(prefix) and sizes(row["size"]):
            b = row["results"].get("berth")
            if b and "na" not in b:
                return f"{text} {'ok' if test(b['median']) else 'MISSED'}"
            return text
    for scenario, prefix, limit, text in P99_TARGETS:
        if row["scenario"] == scenario and row["metric"].startswith(prefix):
            b = row["results"].get("berth")
            if b and "na" not in b:
                return f"{text} {'ok' if b['p99'] <= limit else 'MISSED'}"
            return text
    if row["scenario"] == "overlay" and row["metric"].startswith("TCP 1 stream"):
        b, f = row["results"].get("berth"), row["results"].get("floor")
        if b and f and "na" not in b and "na" not in f:
            pct = 100 * b["median"] / f["median"]
            paired = b.get("extra", {}).get("per_round_ratio_to_floor_median")
            rounds = f" (per round {100 * paired:.0f}%)" if paired else ""
            return f">= 95% of VXLAN: {pct:.0f}%{rounds} {'ok' if pct >= 95 else 'MISSED'}"
    if row["scenario"] == "dataplane" and row["metric"].startswith("TCP 1 stream, container"):
        b, f = row["results"].get("berth"), row["results"].get("floor")
        if b and f and "na" not in b and "na" not in f:
            pct = 100 * b["median"] / f["median"]
            return f">= 95% of bridge: {pct:.0f}% {'ok' if pct >= 95 else 'MISSED'}"
    return ""


def table(rows):
    # Variants of berth a scenario runs beside it (berth-fw, ...) get columns of their own.
    columns = COLUMNS + sorted({s for r in rows for s in r["results"]} - set(COLUMNS))
    head = ["scenario", "N", "metric", "unit", *[c + (" p50/p99" if c == "berth" else " (x peer/berth)") for c in columns],
            "target"]
    lines = [[r["scenario"], str(r["size"]), r["metric"], r["unit"], *[cell(r, c) for c in columns], target_of(r)]
             for r in rows]
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    out += ["  ".join(x.ljust(w) for x, w in zip(line, widths)) for line in lines]
    reasons = {}
    for r in rows:
        for system, res in r["results"].items():
            if "na" in res:
                reasons.setdefault(res["na"], []).append(f"{r['scenario']}/{r['size']}/{system}")
    if reasons:
        out.append("\nn/a:")
        out += [f"  {', '.join(sorted(set(w))[:6])}{' ...' if len(set(w)) > 6 else ''}: {reason}"
                for reason, w in reasons.items()]
    return "\n".join(out)


def versions(bin_dir):
    def first(argv):
        try:
            return run(argv, check=False).stdout.strip().splitlines()[0]
        except Exception:
            return "unavailable"
    # the commit measured ("-dirty": with uncommitted changes in the work tree)
    berth = first(["git", "-C", REPO, "describe", "--always", "--dirty"])
    return dict(kernel=platform.release(), cpus=os.cpu_count(), berth=berth,
                docker=first(["dockerd", "--version"]), netavark=first(["/usr/lib/podman/netavark", "--version"]),
                cni=first(["sh", "-c", "dpkg-query -W containernetworking-plugins"]), iperf3=first(["iperf3", "--version"]))


def main():
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    p.add_argument("scenarios", nargs="*", help=f"subset to run (default: all): {', '.join(SCENARIOS)}")
    p.add_argument("--bin", required=True, help="directory holding berthd and berth")
    p.add_argument("--levels", default="1,100,500,1000", help="host sizes, containers running (default 1,100,500,1000)")
    p.add_argument("--fill-budget", type=float, default=200,
                   help="seconds Docker may spend filling up, in all (default 200; berth is always filled)")
    p.add_argument("--iperf-seconds", type=int, default=5, help="length of one iperf3 run (default 5; 3 runs)")
    p.add_argument("--dns-seconds", type=int, default=10, help="length of each dnsperf run (default 10)")
    p.add_argument("--no-docker", action="store_true")
    p.add_argument("--no-peers", action="store_true", help="skip netavark, CNI and the netlink floor")
    p.add_argument("--out", help="JSON file (default bench/results/<date>.json)")
    args = p.parse_args()
    args.levels = [int(x) for x in args.levels.split(",") if x]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario {unknown}; known: {', '.join(SCENARIOS)}")
    names = [s for s in SCENARIOS if not args.scenarios or s in args.scenarios]

    # SIGTERM/SIGHUP become exceptions so the finally below still cleans up.
    def stop(sig, _):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even if started with SIGINT ignored

    before = host_snapshot()
    load_before = os.getloadavg()
    bench = Bench(args)
    started = time.time()
    status = "complete"
    try:
        bench.run(names)
    except KeyboardInterrupt:
        status = "interrupted"
        print("\ninterrupted: cleaning up", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not stop the cleanup
        bench.cleanup.run()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    elapsed = time.time() - started
    after = host_snapshot()
    leftovers = [n for n in run(["ip", "netns", "list"]).stdout.split() if n.startswith(bench.prefix)]

    # An engine that could not reach a size has an "(all)" row: spread its reason over that
    # size's other rows, and drop it where there are some.
    for key, r in list(bench.rows.items()):
        siblings = [o for o in bench.rows.values() if o is not r and o["scenario"] == r["scenario"] and o["size"] == r["size"]]
        if r["metric"] == "(all)" and siblings:
            for o in siblings:
                for system, res in r["results"].items():
                    o["results"].setdefault(system, res)
            del bench.rows[key]
    order = list(SCENARIOS)   # grouped by scenario, then host size, in the order measured
    rows = sorted(bench.rows.values(), key=lambda r: (order.index(r["scenario"]), r["size"] if r["size"] != "-" else 0))
    print("\n" + table(rows))
    host_ok = before == after and not leftovers and not os.path.exists(bench.work)
    print(f"\n{status} in {elapsed / 60:.1f} min; host network unchanged: {'yes' if host_ok else 'NO'}; "
          f"load average {load_before[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end ({os.cpu_count()} CPUs)", flush=True)
    if before != after:
        print(f"  before: {before}\n  after:  {after}")
    if leftovers:
        print(f"  namespaces left: {leftovers}")
    for name, reason in bench.broken.items():
        print(f"  {name}: {reason}")

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    default = date if not args.scenarios else f"{date}-{'-'.join(args.scenarios)}"
    out = args.out or os.path.join(REPO, "bench", "results", f"{default}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    doc = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               command=" ".join(["bench/run", *sys.argv[1:]]), status=status, seconds=round(elapsed, 1),
               host_network_unchanged=host_ok, machine=versions(args.bin), levels=args.levels,
               load_average=dict(start=load_before, end=os.getloadavg()), scenario_seconds=bench.seconds,
               stopped_early=bench.broken,
               unit_note="ms and s rows: lower is better; Gbit/s: higher is better; ratio = peer median / berth median",
               rows=[dict(r, target=target_of(r)) for r in rows])
    with open(out + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(out + ".tmp", out)
    print(f"results: {os.path.relpath(out, REPO)}")
    return 0 if status == "complete" else 130


if __name__ == "__main__":
    sys.exit(main())

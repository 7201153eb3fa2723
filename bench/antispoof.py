"""What anti-spoofing costs (issue 15): berth against itself with the guard on and off,
side by side in one run, on the idle host (level 0):

- the in-daemon attach (the network part of a start, `GET /berth/timings`) over `run -d`
  / `rm -f` cycles of a probe on a network with the guard (the default) and on one made
  with `-o berth.network.enable_anti_spoofing=false`, the two taken in turn, round by
  round, so other load on the machine weighs on both alike;
- single-stream TCP between two containers of each network (iperf3 in the containers'
  namespaces, as `dataplane`), in turn too.

Each pair ends with a row of the difference: attach on minus off (target <= 0.1 ms), and
TCP on as a share of off (target >= 97%), both as the median over rounds of the round's
own difference (ratio), which moves less with the other load of a shared machine than the
difference of the overall medians (kept in the row's JSON as `extra`).
"""
from scenarios import _median, iperf, scenario

OPT_OUT = "berth.network.enable_anti_spoofing=false"


def _attach_samples(eng, net, cycles):
    run_probe = ("run", "-d", "--name", "asprobe", "--network", net, eng.image, "sleep", "100000")
    eng.timings()                                   # empties the daemon's windows
    for _ in range(cycles):
        eng.cli(*run_probe)
        eng.cli("rm", "-f", "asprobe")
    return [us / 1e6 for us in eng.timings()["attachMicroseconds"]]


@scenario("antispoof")
def antispoof(ctx, rounds=7, cycles=10, tcp_runs=7):
    eng = next((e for e in ctx.engines(0) if e.name == "berth"), None)
    if eng is None:
        return
    nets = {"on": "asguard", "off": "asopen"}
    attach = {"on": [], "off": []}
    tcp = {"on": [], "off": []}
    attach_deltas, tcp_ratios = [], []
    with ctx.guard("antispoof", 0, "berth"):
        eng.cli("network", "create", nets["on"])
        eng.cli("network", "create", "-o", OPT_OUT, nets["off"])
        for case, net in nets.items():   # warm-up: the first start on a network makes its spare pairs
            _attach_samples(eng, net, 2)
        # Each round swaps which case goes first, so neither always follows the other's load.
        for round_number in range(rounds):
            order = list(nets.items()) if round_number % 2 == 0 else list(reversed(nets.items()))
            got = {case: _attach_samples(eng, net, cycles) for case, net in order}
            for case in got:
                attach[case] += got[case]
            if got["on"] and got["off"]:
                attach_deltas.append(_median(got["on"]) - _median(got["off"]))
        servers = {}
        for case, net in nets.items():
            for c in ("1", "2"):
                eng.cli("run", "-d", "--name", f"as{case}{c}", "--network", net, eng.image, "sleep", "100000")
            servers[case] = (eng.sandbox_key(f"as{case}1"), eng.sandbox_key(f"as{case}2"), eng.ip_of(f"as{case}1", net))
        for round_number in range(tcp_runs):
            for case in ("on", "off") if round_number % 2 == 0 else ("off", "on"):
                tcp[case].append(iperf(ctx, *servers[case]))
            tcp_ratios.append(100 * tcp["on"][-1] / tcp["off"][-1])
    metric = "attach in-daemon (ms), anti-spoofing"
    for case in ("on", "off"):
        if attach[case]:
            ctx.record("antispoof", 0, f"{metric} {case}", "ms", "berth", attach[case])
        if tcp[case]:
            ctx.record("antispoof", 0, f"TCP 1 stream, one bridge, anti-spoofing {case}", "Gbit/s", "berth", tcp[case])
    if attach_deltas:
        ctx.record("antispoof", 0, "attach: on minus off, per round (ms; target <= 0.1)", "ms", "berth",
                   [_median(attach_deltas)],
                   extra={"rounds": attach_deltas, "of_overall_medians": _median(attach["on"]) - _median(attach["off"])})
    if tcp_ratios:
        ctx.record("antispoof", 0, "TCP: on / off, per round (%; target >= 97)", "%", "berth", [_median(tcp_ratios)],
                   extra={"rounds": tcp_ratios, "of_overall_medians": 100 * _median(tcp["on"]) / _median(tcp["off"])})
    for name in ("asprobe", "ason1", "ason2", "asoff1", "asoff2"):
        eng.cli("rm", "-f", name, check=False)
    for net in nets.values():
        eng.cli("network", "rm", net, check=False)

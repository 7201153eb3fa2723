"""Multi-host: a throwaway cluster for the `overlay` and `multihost` scenarios.

As integration/cluster.py builds it: an underlay namespace holding a bridge
(10.99.0.0/24, MTU 1500) and one etcd member (10.99.0.201, data under the run's work
directory); each node is a "host" namespace with an eth0 on that bridge. Two berthd nodes
(10.99.0.1, .2) run in cluster mode; two dockerd 20.10 nodes (10.99.0.11, .12) run its
legacy etcd-backed overlay (`--cluster-store`, as shared/peers/overlay_legacy.sh: etcd's v2
API, serf gossip, one UTS namespace each for distinct hostnames); and two bare namespaces
(10.99.0.21, .22) carry the hand-built VXLAN floor. Everything is registered with the
run's cleanup the moment it exists: namespaces, processes (by pid), directories.
"""
import os
import re
import shutil
import signal
import subprocess
import time

from common import Cleanup, netns_add, run, wait_for
from engines import Berth, Docker

PREFIX = "10.99.0"
ETCD = f"{PREFIX}.201"
TTL = 5   # discovery.ttl of the berth nodes (seconds)


class Underlay:
    def __init__(self, work, netns, cleanup):
        self.netns, self.cleanup = netns, cleanup
        self.dir = os.path.join(work, "underlay")
        os.makedirs(self.dir)
        self.etcd = None
        netns_add(cleanup, [netns])
        cleanup.defer("etcd stop", self.stop_etcd)
        self.sh(f"ip link add ul0 type bridge && ip link set ul0 up && ip addr add {PREFIX}.254/24 dev ul0"
                f" && ip addr add {ETCD}/24 dev ul0")

    def sh(self, cmd):
        return run(["ip", "netns", "exec", self.netns, "sh", "-c", cmd])

    def plug(self, host_netns, index):
        """An eth0 at 10.99.0.INDEX in host_netns, on the underlay bridge (deleted with
        the namespaces)."""
        self.sh(f"ip link add u{index} type veth peer name eth0 netns {host_netns}"
                f" && ip link set u{index} master ul0 up")
        run(["sh", "-c", f"ip -n {host_netns} addr add {PREFIX}.{index}/24 dev eth0 && ip -n {host_netns} link set eth0 up"])
        return f"{PREFIX}.{index}"

    def start_etcd(self):
        """One member; v2 as well for Docker 20.10's libkv, v3 for berth."""
        log = open(os.path.join(self.dir, "etcd.log"), "a")
        self.etcd = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.netns}", "etcd", "--name", "bench", "--data-dir", f"{self.dir}/etcd",
             "--enable-v2", "--listen-client-urls", f"http://{ETCD}:2379", "--advertise-client-urls", f"http://{ETCD}:2379",
             "--listen-peer-urls", f"http://{ETCD}:2380", "--initial-advertise-peer-urls", f"http://{ETCD}:2380",
             "--initial-cluster", f"bench=http://{ETCD}:2380", "--heartbeat-interval", "50", "--election-timeout", "500",
             "--log-level", "warn"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        health = lambda: run(["ip", "netns", "exec", self.netns, "etcdctl", "--endpoints", f"http://{ETCD}:2379",
                              "--dial-timeout", "1s", "endpoint", "health"], check=False,
                             env={**os.environ, "ETCDCTL_API": "3"}).returncode == 0
        if wait_for(lambda: self.etcd.poll() is not None or health(), 30, 0.2) is None or self.etcd.poll() is not None:
            raise RuntimeError("etcd did not start: " + open(os.path.join(self.dir, "etcd.log")).read()[-300:])

    def stop_etcd(self):
        if self.etcd and self.etcd.poll() is None:
            os.killpg(self.etcd.pid, signal.SIGKILL)   # its own session: etcd alone
            self.etcd.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class BerthNode(Berth):
    def __init__(self, work, netns, cleanup, bin_dir, label):
        self.name, self.cluster_args = label, []
        super().__init__(work, netns, cleanup, bin_dir)

    def daemon_argv(self):
        return super().daemon_argv() + self.cluster_args


class DockerNode(Docker):
    def __init__(self, work, netns, cleanup, run_id, label):
        self.name, self.cluster_args = label, []
        super().__init__(work, netns, cleanup, f"{run_id}-{label}")

    def daemon_argv(self):
        argv = [*super().daemon_argv(), "--bridge=none", *self.cluster_args]
        # A UTS namespace of its own: serf names the node after the hostname.
        return ["unshare", "--uts", "sh", "-c", f'hostname {self.name} && exec "$@"', "sh", *argv]


class Cluster:
    """The underlay, etcd, the engines' nodes and the VXLAN floor; built once per run."""

    def __init__(self, ctx):
        self.ctx = ctx
        # A cleanup stack of its own, run from the run's stack (on failure or Ctrl-C) or as
        # soon as the last multi-host scenario is done, so that four idle daemons and etcd
        # do not weigh on the scenarios after it.
        self.cleanup = Cleanup()
        ctx.cleanup.defer("multi-host cluster", self.cleanup.run)
        self.underlay = Underlay(ctx.work, ctx.prefix + "ul", self.cleanup)
        self.underlay.start_etcd()
        self.nodes = {}    # "berth"/"docker" -> [node1, node2]
        self.broken = {}   # "berth"/"docker" -> why
        tarball = os.path.join(ctx.work, "busybox.tar")
        makers = {"berth": lambda i: BerthNode(ctx.work, f"{ctx.prefix}bn{i}", self.cleanup, ctx.args.bin, f"berth-n{i}")}
        if not ctx.args.no_docker:
            makers["docker"] = lambda i: DockerNode(ctx.work, f"{ctx.prefix}dn{i}", self.cleanup, ctx.id, f"docker-n{i}")
        for system, make in makers.items():
            try:
                nodes = []
                for i in (1, 2):
                    node = make(i)
                    index = i if system == "berth" else 10 + i
                    address = self.underlay.plug(node.netns, index)
                    if system == "berth":
                        node.cluster_args = ["--cluster-store", f"etcd://{ETCD}:2379", "--cluster-advertise", address,
                                             "--cluster-store-opt", f"discovery.ttl={TTL}"]
                    else:
                        node.cluster_args = [f"--cluster-store=etcd://{ETCD}:2379", f"--cluster-advertise={address}:2376"]
                    node.start(timeout=90)
                    node.import_image(tarball)
                    nodes.append(node)
                    print(f"{node.name}: pid {node.proc.pid}, namespace {node.netns}, {address}", flush=True)
                if system == "docker":
                    # dockerd answers before its store client works: the first creates fail
                    # with "etcd cluster is unavailable" for a few seconds.
                    ready = lambda: nodes[0].cli("network", "create", "-d", "overlay", "warmup", check=False).returncode == 0
                    if wait_for(ready, 60, 0.5) is None:
                        raise RuntimeError("docker-n1 cannot create an overlay network: " +
                                           nodes[0].cli("network", "create", "-d", "overlay", "warmup", check=False).stderr)
                    nodes[0].cli("network", "rm", "warmup")
                self.nodes[system] = nodes
            except Exception as e:
                self.broken[system] = f"cluster node did not start: {str(e).strip().splitlines()[0][:140]}"
                print(f"{system}: {self.broken[system]}", flush=True)
        self.floor = None
        try:
            self.floor = self.vxlan_floor()
        except Exception as e:
            self.broken["floor"] = f"hand-built VXLAN failed: {str(e).strip().splitlines()[0][:140]}"

    def vxlan_floor(self):
        """Two bare "hosts" on the same underlay, each with a VXLAN device (VNI 42, point to
        point, as shared/peers/dataplane.sh) and a bridge, one bare "container" namespace
        each on that bridge with MTU 1450: returns (server ns, client ns, server address)."""
        p = self.ctx.prefix
        hosts, conts = [f"{p}vh1", f"{p}vh2"], [f"{p}vc1", f"{p}vc2"]
        netns_add(self.cleanup, hosts + conts)
        addrs = [self.underlay.plug(h, 20 + i) for i, h in enumerate(hosts, 1)]
        for i, (h, c) in enumerate(zip(hosts, conts)):
            local, remote = addrs[i], addrs[1 - i]
            run(["sh", "-c", f"ip -n {h} link add vxlan42 type vxlan id 42 local {local} remote {remote} dstport 4789 dev eth0"
                             f" && ip -n {h} link add br0 type bridge && ip -n {h} link set vxlan42 master br0 up"
                             f" && ip -n {h} link set br0 up"
                             f" && ip -n {h} link add vc mtu 1450 type veth peer name eth0 netns {c}"
                             f" && ip -n {h} link set vc master br0 up"
                             f" && ip -n {c} link set eth0 mtu 1450 && ip -n {c} addr add 10.200.0.{i + 1}/24 dev eth0"
                             f" && ip -n {c} link set eth0 up"])
        return f"/run/netns/{conts[0]}", f"/run/netns/{conts[1]}", "10.200.0.1"


    def working(self):
        """(system, node1, node2) for every engine whose nodes still run."""
        out = []
        for system, (n1, n2) in self.nodes.items():
            if system in self.broken:
                continue
            dead = [n.name for n in (n1, n2) if n.proc is None or n.proc.poll() is not None]
            if dead:
                self.broken[system] = f"{', '.join(dead)} died: {(n1 if n1.name in dead else n2).log_tail().strip()[-120:]}"
                continue
            out.append((system, n1, n2))
        return out


def mtu(netns_path):
    """eth0's MTU in a namespace (through netlink: /sys would show the real host's)."""
    out = run(["nsenter", f"--net={netns_path}", "ip", "-o", "link", "show", "eth0"], check=False).stdout
    m = re.search(r"\bmtu (\d+)", out)
    return int(m.group(1)) if m else None


def release_cluster(ctx, scenario):
    """Removes the cluster once no scenario still to run in this run needs it."""
    later = CLUSTER_SCENARIOS[CLUSTER_SCENARIOS.index(scenario) + 1:]
    if getattr(ctx, "_cluster", None) is not None and not any(
            n in later for n in (ctx.args.scenarios or CLUSTER_SCENARIOS)):
        ctx._cluster.cleanup.run()
        ctx._cluster = None


CLUSTER_SCENARIOS = ["overlay", "multihost"]   # in the order bench.py runs them


def cluster_of(ctx):
    """The run's cluster, built the first time a scenario asks for it."""
    if getattr(ctx, "_cluster", None) is None:
        t0 = time.monotonic()
        ctx._cluster = Cluster(ctx)
        ctx.seconds["cluster set-up"] = round(time.monotonic() - t0, 1)
    return ctx._cluster


# Runs in the client container's namespace. For each name on stdin: asks the DNS server
# for it every few ms until an A record comes back, then pings that address (ICMP echo,
# raw socket) until it answers; prints the seconds from reading the line to the answer,
# and to the echo reply. A name not resolved (answering) within the line's timeout (seconds,
# after the name) prints "noname" ("noping").
RESOLVE_PING_PROBE = r"""
import os, select, socket, struct, sys, time
server = sys.argv[1]
dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def skip_name(m, i):
    while True:
        n = m[i]
        if n == 0: return i + 1
        if n & 0xc0 == 0xc0: return i + 2
        i += n + 1
def a_record(m):
    an = struct.unpack(">H", m[6:8])[0]
    i = skip_name(m, 12) + 4
    for _ in range(an):
        i = skip_name(m, i)
        t, _c, _ttl, ln = struct.unpack(">HHIH", m[i:i + 10]); i += 10
        if t == 1 and ln == 4: return socket.inet_ntoa(m[i:i + 4])
        i += ln
    return None
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
qid = 0
for line in sys.stdin:
    name, limit = line.split(); limit = float(limit); t0 = time.perf_counter(); addr = None; t_res = None
    while addr is None and time.perf_counter() - t0 < limit:
        qid = (qid + 1) & 0xffff
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + bytes([len(name)]) + name.encode() + b"\0" + struct.pack(">HH", 1, 1)
        dns.sendto(q, (server, 53))
        deadline = time.perf_counter() + 0.005
        while addr is None and time.perf_counter() < deadline:
            if select.select([dns], [], [], max(0, deadline - time.perf_counter()))[0]:
                addr = a_record(dns.recv(4096))
                if addr is None: time.sleep(0.001); break
    t_res = time.perf_counter() - t0
    ok = False; seq = 0
    while addr and not ok and time.perf_counter() - t0 < limit:
        seq += 1
        body = struct.pack("!HH", os.getpid() & 0xffff, seq) + b"berth-bench"
        pkt = struct.pack("!BBH", 8, 0, 0) + body
        pkt = struct.pack("!BBH", 8, 0, csum(pkt + b"\0")) + body
        icmp.sendto(pkt, (addr, 0))
        deadline = time.perf_counter() + 0.005
        while not ok and time.perf_counter() < deadline:
            if select.select([icmp], [], [], max(0, deadline - time.perf_counter()))[0]:
                r, src = icmp.recvfrom(4096)
                hl = (r[0] & 0x0f) * 4
                ok = src[0] == addr and r[hl] == 0
    print(f"{t_res:.7f} {time.perf_counter() - t0:.7f}" if ok else "noping" if addr else "noname", flush=True)
"""

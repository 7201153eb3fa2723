"""Per-container attach/detach of the plugin-style peers and of the kernel floor, measured
the way /work/shared/peers/{nv_cni_attach,floor}.py measured them (so ratios compare),
except that each peer's "host" is a throwaway namespace instead of the real host.

Every "container" is a bare namespace from `ip netns add`. At each level K, K containers
stay attached to one bridge while a probe container is set up and torn down N times
(after one warm-up cycle). A Linux bridge takes 1,024 ports, so 1,000 still fits on one.
"""
import hashlib
import json
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

from common import in_netns, netns_add, netns_batch, run, timed

PROBE = 1010          # index of the probe container; 10.x.3.244 in the /22
NETAVARK = "/usr/lib/podman/netavark"
CNI_PATH = "/usr/lib/cni"


def address(base, i):
    """i in 0..1020 -> an address inside base.0.0/22; base.0.1 is the gateway."""
    n = i + 2
    return f"{base}.{n // 256}.{n % 256}"


def cid(s):
    return hashlib.sha256(s.encode()).hexdigest()


class Peer:
    name = "?"

    def __init__(self, work, prefix, cleanup):
        self.dir = os.path.join(work, self.name)
        self.prefix = prefix           # container namespaces are <prefix><i>
        self.host = prefix + "h"       # the peer's own "host" namespace
        self.attached = 0
        self.made = [f"{prefix}{PROBE}"]
        os.makedirs(self.dir)
        cleanup.defer(f"{self.name} removal", self.remove)
        netns_add(cleanup, [self.host])
        netns_batch("add", self.made)
        with in_netns(self.host):
            self.prepare()

    def prepare(self):
        pass

    def fill_to(self, level):
        """Attaches containers attached..level-1 (untimed)."""
        new = [f"{self.prefix}{i}" for i in range(self.attached, level)]
        netns_batch("add", new)
        self.made += new
        self.fill(range(self.attached, level))
        self.attached = max(self.attached, level)

    def fill(self, indexes):
        # Two at a time: filling is not measured, and a thousand CNI ADDs take minutes.
        def one(i):
            with in_netns(self.host):
                self.setup(i)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(one, indexes))

    def probe(self, n):
        """n timed setup/teardown cycles of the probe container; returns two lists of seconds."""
        with in_netns(self.host):
            self.setup(PROBE), self.teardown(PROBE)   # warm-up
            ups, downs = [], []
            for _ in range(n):
                ups.append(self.setup(PROBE))
                downs.append(self.teardown(PROBE))
        return ups, downs

    def remove(self):
        # Deleting the namespaces removes every veth, bridge and firewall rule in them.
        netns_batch("del", self.made + [self.host])
        shutil.rmtree(self.dir, ignore_errors=True)


class Netavark(Peer):
    """netavark 1.4 `setup`/`teardown` (bridge driver, static IPs, no DNS), as podman calls it."""
    name = "netavark"
    network, bridge, base, dns = "nvbench", "nvbr0", "10.89", False
    extra_args = ()

    def container_name(self, i):
        return f"{self.prefix}{i}"

    def opts(self, i):
        name, net = self.container_name(i), self.network
        return json.dumps({
            "container_id": cid(f"{self.prefix}{i}"), "container_name": name,
            "networks": {net: {"static_ips": [address(self.base, i)], "interface_name": "eth0", "aliases": [name]}},
            "network_info": {net: {
                "name": net, "id": cid(net), "driver": "bridge", "network_interface": self.bridge,
                "subnets": [{"subnet": f"{self.base}.0.0/22", "gateway": f"{self.base}.0.1"}],
                "ipv6_enabled": False, "internal": False, "dns_enabled": self.dns,
                "ipam_options": {"driver": "host-local"}}}})

    def call(self, verb, i):
        return timed([NETAVARK, "--config", self.dir, *self.extra_args, verb, f"/run/netns/{self.prefix}{i}"],
                     input=self.opts(i))

    def setup(self, i):
        return self.call("setup", i)

    def teardown(self, i):
        return self.call("teardown", i)


class CNI(Peer):
    """The reference CNI bridge plugin 1.1 with host-local IPAM and ipMasq, called directly."""
    name = "cni"

    def conf(self):
        return json.dumps({"cniVersion": "1.0.0", "name": "cnibench", "type": "bridge", "bridge": "cnibr0",
                           "isGateway": True, "ipMasq": True,
                           "ipam": {"type": "host-local", "subnet": "10.90.0.0/22", "dataDir": self.dir,
                                    "routes": [{"dst": "0.0.0.0/0"}]}})

    def call(self, command, i):
        name = f"{self.prefix}{i}"
        env = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=cid(name), CNI_NETNS=f"/run/netns/{name}",
                   CNI_IFNAME="eth0", CNI_PATH=CNI_PATH)
        return timed([f"{CNI_PATH}/bridge"], input=self.conf(), env=env)

    def setup(self, i):
        return self.call("ADD", i)

    def teardown(self, i):
        return self.call("DEL", i)


class Floor(Peer):
    """The netlink floor: nlfloor.c (libmnl, one process) does the same attach as berth
    with the fewest possible rtnetlink messages; its own clock times only the netlink work."""
    name = "floor"

    def __init__(self, work, prefix, cleanup, source):
        self.source = source
        super().__init__(work, prefix, cleanup)

    def prepare(self):
        self.bin = os.path.join(self.dir, "nlfloor")
        run(["gcc", "-O2", "-o", self.bin, self.source, "-lmnl"])
        run(["sh", "-c", "ip link add flbr0 type bridge && ip addr add 10.91.0.1/22 dev flbr0 && ip link set flbr0 up"])

    def fill(self, indexes):
        if len(indexes):
            with in_netns(self.host):
                run([self.bin, "flbr0", self.prefix, str(indexes[0]), str(len(indexes)), "keep"])

    def probe(self, n):
        with in_netns(self.host):
            out = run([self.bin, "flbr0", self.prefix, str(PROBE), str(n + 1), "repeat"]).stdout.splitlines()[1:]
        ups = [float(re.search(r"setup_us=([\d.]+)", l).group(1)) / 1e6 for l in out]
        downs = [float(re.search(r"del_us=([\d.]+)", l).group(1)) / 1e6 for l in out]
        return ups, downs


class Aardvark(Netavark):
    """aardvark-dns 1.4 as netavark starts it (dns_enabled), serving 300 containers named
    fill001..fill300 on one bridge, as /work/shared/peers/dns_aardvark.py measured it. Its
    queries come from one more namespace, the client, at `client_index`."""
    name = "aardvark"
    network, bridge, base, dns = "nvdns", "nvdnsbr", "10.92", True
    extra_args = ("-a", "/usr/lib/podman/aardvark-dns")
    client_index = 800

    def container_name(self, i):
        # The same names as berth's and Docker's DNS runs, so one query file serves all.
        return f"fill{i + 1:03d}" if i < 300 else f"{self.prefix}{i}"

    def fill(self, indexes):
        # One at a time: concurrent netavark setups race creating the same firewall chains.
        with in_netns(self.host):
            for i in indexes:
                self.setup(i)

    def attach_client(self):
        name = f"{self.prefix}{self.client_index}"
        netns_batch("add", [name])
        self.made.append(name)
        with in_netns(self.host):
            self.setup(self.client_index)
        return name

    def __init__(self, work, prefix, cleanup):
        super().__init__(work, prefix, cleanup)
        # Deferred after the namespaces, so it runs before they are deleted (the stack
        # unwinds last-in first-out).
        cleanup.defer("aardvark-dns stop", self.stop_aardvark)

    def stop_aardvark(self):
        # netavark leaves aardvark-dns running in the peer's host namespace: stop it by
        # namespace, never by name (other aardvark-dns processes may exist on the machine).
        for pid in run(["ip", "netns", "pids", self.host], check=False).stdout.split():
            run(["kill", "-9", pid], check=False)

"""The paths berth's containers need, probed all at once (issue 15).

A `Workload` puts on a test host (with its outside namespace, `Host.add_outside`) a web
container publishing 8080 on one user network, a client beside it, and a container on a
second user network, plus "the internet" server in the outside namespace. `results()`
probes every path in parallel and says which worked, so a firewall that drops berth's
traffic shows up as a dict of the paths it broke.
"""
import concurrent.futures
import os
import subprocess
import sys
import time

from harness import HOST_IP, INTERNET, LAN_IP, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = [sys.executable, os.path.join(HERE, "peer_server.py")]
CLIENT = [sys.executable, os.path.join(HERE, "peer_client.py")]
INTERNET_PORT = 8000
PAGE = "hf-web"
WEB = ["sh", "-c", f"mkdir -p /www && echo {PAGE} > /www/index.html && exec httpd -f -p 80 -h /www"]


def in_netns(netns, command, timeout=15):
    return subprocess.run(["ip", "netns", "exec", netns, *command], capture_output=True, text=True, timeout=timeout)


def listening(netns, port, flags="-lnt"):
    return f":{port} " in in_netns(netns, ["ss", flags]).stdout


class Workload:
    """Containers and servers whose paths the coexistence tests probe."""

    def __init__(self, host, outside, published=8080, prefix="hf", subnets=("10.81.0.0/24", "10.82.0.0/24")):
        self.host, self.outside, self.published = host, outside, published
        self.net_a, self.net_b = f"{prefix}a", f"{prefix}b"
        self.web, self.client, self.stranger = f"{prefix}-web", f"{prefix}-client", f"{prefix}-stranger"
        if not listening(outside, INTERNET_PORT):
            host.background_in(outside, [*SERVER, "tcp", INTERNET, str(INTERNET_PORT)])
            wait_until(lambda: listening(outside, INTERNET_PORT), message="the internet server")
        host.berth("network", "create", "--subnet", subnets[0], self.net_a)
        host.berth("network", "create", "--subnet", subnets[1], self.net_b)
        host.berth("run", "-d", "--name", self.web, "--network", self.net_a, "-p", f"{published}:80", "busybox", *WEB)
        for name, network in ((self.client, self.net_a), (self.stranger, self.net_b)):
            host.berth("run", "-d", "--name", name, "--network", network, "busybox", "sleep", "600")
        self.web_ip = host.ip_of(self.web, self.net_a)
        sandbox = host.inspect(self.web)["NetworkSettings"]["SandboxKey"]
        wait_until(lambda: ":80 " in subprocess.run(["nsenter", f"--net={sandbox}", "ss", "-lnt"], capture_output=True,
                                                    text=True).stdout, message="httpd in the web container")

    def bridge_of(self, network):
        """The network's bridge: berth names it br-<first 12 of its ID>, as Docker does."""
        return "br-" + self.host.docker("network", "inspect", "-f", "{{.Id}}", network).stdout.strip()[:12]

    # --- probes: each True when the path carried the traffic -----------------------
    def _exec(self, container, *command, timeout=15):
        return self.host.berth("exec", container, *command, check=False, timeout=timeout)

    def _page(self, result):
        return result.returncode == 0 and result.stdout.strip() == PAGE

    def probes(self):
        host, web_ip, port = self.host, self.web_ip, self.published
        return {
            "outbound to the internet": lambda: self._exec(
                self.client, "nc", "-w", "3", INTERNET, str(INTERNET_PORT)).stdout.strip() == f"peer={HOST_IP}",
            "published port from the LAN": lambda: self._page(in_netns(
                self.outside, ["curl", "-s", "--max-time", "3", f"http://{HOST_IP}:{port}/"])),
            "published port from the host at 127.0.0.1": lambda: self._page(host.sh(
                f"curl -s --max-time 3 http://127.0.0.1:{port}/", check=False)),
            "published port from the host at its own address": lambda: self._page(host.sh(
                f"curl -s --max-time 3 http://{HOST_IP}:{port}/", check=False)),
            "hairpin: container to the host's address and published port": lambda: self._page(self._exec(
                self.client, "timeout", "3", "wget", "-qO-", f"http://{HOST_IP}:{port}/")),
            "container to container: ping": lambda: self._exec(
                self.client, "ping", "-c", "1", "-W", "2", web_ip).returncode == 0,
            "container to container: TCP": lambda: self._page(self._exec(
                self.client, "timeout", "3", "wget", "-qO-", f"http://{web_ip}/")),
            "DNS by name on a user network": lambda: web_ip in self._exec(
                self.client, "nslookup", self.web).stdout.split("Name:", 1)[-1],
            "other network reaches the web container (must not)": lambda: self._page(self._exec(
                self.stranger, "timeout", "2", "wget", "-qO-", f"http://{web_ip}/")),
        }

    def expected(self, overrides=None):
        """Every path works except the one that must not; `overrides` changes some."""
        expected = {name: not name.endswith("(must not)") for name in self.probes()}
        unknown = set(overrides or {}) - set(expected)
        assert not unknown, f"no such path: {unknown}"
        return {**expected, **(overrides or {})}

    def results(self):
        probes = self.probes()
        with concurrent.futures.ThreadPoolExecutor(len(probes)) as pool:
            futures = {name: pool.submit(probe) for name, probe in probes.items()}
            return {name: future.result() for name, future in futures.items()}

    def settled(self, timeout=10, overrides=None):
        """The results once they match what berth promises, or the last ones after
        `timeout` seconds (berthd reacts to another program's commit asynchronously)."""
        deadline = time.time() + timeout
        while True:
            found = self.results()
            if found == self.expected(overrides) or time.time() >= deadline:
                return found
            time.sleep(0.5)

    def assert_paths(self, timeout=10, overrides=None):
        found = self.settled(timeout, overrides)
        expected = self.expected(overrides)
        broken = {name: ok for name, ok in found.items() if ok != expected[name]}
        assert not broken, f"paths not as berth promises (True = traffic passed): {broken}"

"""The two container engines under test, each in a throwaway "host" network namespace:
berthd, and dockerd (Docker 20.10 from Debian, with the containerd it starts itself).

Both speak the Docker Engine API, so filling, inspecting and restarting share one class;
each engine has its own CLI, directories, socket and cgroup parent under the run's work
directory. Teardown kills everything by cgroup and namespace instead of removing a
thousand containers one by one.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from common import (kill_cgroup, mem_available_mb, netns_add, rss_mb, run, stale_socket, timed, unmount_below,
                    wait_for)


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Engine:
    """One daemon in its own namespace. Subclasses say how to start it and run its CLI."""
    name = "?"
    image = "?"

    def __init__(self, work, netns, cleanup):
        self.dir = os.path.join(work, self.name)
        self.netns = netns
        self.cleanup = cleanup
        self.socket = os.path.join(self.dir, "api.sock")
        self.proc = None
        os.makedirs(self.dir)
        netns_add(cleanup, [netns])
        cleanup.defer(f"{self.name} teardown", self.teardown)

    # --- API and CLI -------------------------------------------------------------
    def api(self, method, path, body=None, timeout=60):
        """One request on a new connection, as a CLI makes it; returns (status, parsed body)."""
        conn = UnixHTTP(self.socket, timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            text = resp.read()
            try:
                return resp.status, json.loads(text) if text else None
            except ValueError:
                return resp.status, text.decode(errors="replace")
        finally:
            conn.close()

    def timed_api(self, method, path, body=None):
        t0 = time.perf_counter()
        status, reply = self.api(method, path, body)
        dt = time.perf_counter() - t0
        if status >= 300:
            raise RuntimeError(f"{self.name} {method} {path}: {status} {reply}")
        return dt

    def cli(self, *args, check=True, timeout=120):
        return run(self.cli_argv(*args), check=check, timeout=timeout, env=self.env())

    def timed_cli(self, *args):
        return timed(self.cli_argv(*args), env=self.env())

    def env(self):
        env = dict(os.environ)
        for k in ("BERTH_HOST", "DOCKER_HOST"):
            env.pop(k, None)
        return env

    def ping(self):
        try:
            return self.api("GET", "/_ping", timeout=2)[0] == 200
        except OSError:
            return False

    # --- lifecycle -----------------------------------------------------------------
    def start(self, timeout=60):
        log = open(os.path.join(self.dir, "daemon.log"), "a")
        # nsenter moves only the network namespace: bridges, veths and any firewall
        # rules the daemon makes land in self.netns; mounts stay in the real mount
        # namespace so container namespaces and root filesystems outlive a restart.
        self.proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{self.netns}", *self.daemon_argv()],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        if wait_for(lambda: self.proc.poll() is not None or self.ping(), timeout) is None or self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "daemon.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def rss(self):
        """{process: MB} of the daemon's own processes (not the containers)."""
        return {self.name + "d": rss_mb(self.proc.pid)}

    # --- containers ----------------------------------------------------------------
    def create_start(self, name, network, cmd=("sleep", "100000")):
        status, reply = self.api("POST", f"/containers/create?name={name}",
                                 {"Image": self.image, "Cmd": list(cmd), "HostConfig": {"NetworkMode": network}})
        if status != 201:
            raise RuntimeError(f"{self.name} create {name}: {status} {reply}")
        status, reply = self.api("POST", f"/containers/{reply['Id']}/start")
        if status not in (204, 304):
            raise RuntimeError(f"{self.name} start {name}: {status} {reply}")

    def fill(self, names_networks, deadline, workers=4):
        """Starts containers through the API, a few at a time; stops at the deadline or when
        memory runs low (Docker needs ~13 MB a container for its shim). Returns how many started."""
        started = 0
        items = list(names_networks)
        with ThreadPoolExecutor(workers) as pool:
            for i in range(0, len(items), 20):
                if time.monotonic() > deadline or mem_available_mb() < 3072:
                    break
                list(pool.map(lambda nn: self.create_start(*nn), items[i:i + 20]))
                started += len(items[i:i + 20])
        return started

    def running_count(self):
        return len(self.cli("ps", "-q").stdout.split())

    def sandbox_key(self, name):
        return self.cli("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", name).stdout.strip()

    def ip_of(self, name, network):
        _, info = self.api("GET", f"/containers/{name}/json")
        return info["NetworkSettings"]["Networks"][network]["IPAddress"]


class Berth(Engine):
    name = "berth"
    image = "busybox"

    def __init__(self, work, netns, cleanup, bin_dir):
        self.bin = bin_dir
        self.cgroup = None
        super().__init__(work, netns, cleanup)
        self.resolv = os.path.join(self.dir, "resolv.conf")
        with open(self.resolv, "w") as f:
            f.write("nameserver 192.0.2.53\n")  # TEST-NET: containers resolve nothing real

    def daemon_argv(self):
        return [os.path.join(self.bin, "berthd"), "--root", f"{self.dir}/root", "--exec-root", f"{self.dir}/exec",
                "-H", f"unix://{self.socket}", "--resolv-conf", self.resolv]

    def cli_argv(self, *args):
        return [os.path.join(self.bin, "berth"), "-H", f"unix://{self.socket}", *args]

    def start(self, timeout=60):
        super().start(timeout)
        if self.cgroup is None:
            # berthd puts containers under the cgroup "berth-<first 12 of its ID>"
            self.cgroup = "berth-" + self.api("GET", "/info")[1]["ID"][:12]

    def import_image(self, tarball):
        self.cli("image", "import", tarball, self.image)

    def timings(self):
        return self.api("GET", "/berth/timings?reset=1")[1]

    def teardown(self):
        self.stop(signal.SIGKILL, 10)
        if self.cgroup:
            kill_cgroup(self.cgroup)
        unmount_below(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


class Docker(Engine):
    name = "docker"
    image = "bb:latest"

    def __init__(self, work, netns, cleanup, run_id):
        self.cgroup = f"bench-docker-{run_id}"
        # Paths dockerd/containerd create outside their own directories; removed at the
        # end only if they did not exist before (another Docker may be using them).
        self.preexisting = {p: os.path.exists(p) for p in ("/run/docker", "/run/containerd")}
        self.shim_sockets = set(os.listdir("/run/containerd/s")) if os.path.isdir("/run/containerd/s") else set()
        super().__init__(work, netns, cleanup)

    def daemon_argv(self):
        # --iptables=false: with it dockerd would load br_netfilter and iptables modules
        # (kernel-wide state); the rules themselves would stay in the namespace. It makes
        # Docker's attach cheaper, if anything, so the comparison stays fair to Docker.
        # --live-restore: containers survive a dockerd restart, as berth's do.
        return ["dockerd", "--data-root", f"{self.dir}/data", "--exec-root", f"{self.dir}/exec",
                "-H", f"unix://{self.socket}", "--pidfile", f"{self.dir}/dockerd.pid", "--iptables=false",
                "--live-restore", "--cgroup-parent", self.cgroup]

    def cli_argv(self, *args):
        return ["docker", "-H", f"unix://{self.socket}", *args]

    def env(self):
        env = super().env()
        env["DOCKER_CONFIG"] = os.path.join(self.dir, "docker-config")
        return env

    def import_image(self, tarball):
        self.cli("import", tarball, self.image)

    def containerd_pid(self):
        try:
            with open(f"{self.dir}/exec/containerd/containerd.pid") as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def shim_pids(self):
        """containerd-shim-runc-v2 processes serving this dockerd's containerd (one per container)."""
        marker = f"{self.dir}/exec/containerd/".encode()
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if cmd.startswith(b"/usr/bin/containerd-shim") and marker in cmd:
                pids.append(int(pid))
        return pids

    def rss(self):
        return {"dockerd": rss_mb(self.proc.pid), "containerd": rss_mb(self.containerd_pid() or 0),
                "shims": sum(rss_mb(p) for p in self.shim_pids())}

    def teardown(self):
        self.stop(signal.SIGKILL, 10)
        for pid in [self.containerd_pid(), *self.shim_pids()]:
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        wait_for(lambda: not self.shim_pids(), 10, 0.1)   # init reaps them: gone from /proc soon after
        kill_cgroup(self.cgroup)
        unmount_below(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
        sdir = "/run/containerd/s"
        if os.path.isdir(sdir):
            for f in set(os.listdir(sdir)) - self.shim_sockets:
                if stale_socket(os.path.join(sdir, f)):
                    os.unlink(os.path.join(sdir, f))
        for path, existed in self.preexisting.items():
            if not existed:
                for d in sorted((w[0] for w in os.walk(path)), key=len, reverse=True):
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass

"""Throwaway test hosts: a network namespace with its own berthd.

Every host gets a fresh namespace (no route to the real network), its own --root,
--exec-root and socket, and a resolv.conf of its own; `cleanup()` removes every
namespace, mount, process and file it made, and is safe to call after any failure.
"""
import errno
import json
import os
import shutil
import signal
import subprocess
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# add_outside's addresses: the host's uplink, the LAN client, and "the internet" behind it.
HOST_IP = "198.51.100.1"
LAN_IP = "198.51.100.2"
INTERNET = "203.0.113.10"
BIN = os.environ.get("BERTH_BIN", os.path.join(REPO, ".build", "debug"))
BERTHD = os.path.join(BIN, "berthd")
BERTH = os.path.join(BIN, "berth")
WORK = os.environ.get("BERTH_TEST_DIR", "/tmp/berth-tests")
SPARE_ALIAS = "berth spare"


def run(cmd, check=True, timeout=60, **kw):
    """Runs a command, returns CompletedProcess with text output."""
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def busybox_image():
    """Builds the busybox rootfs tarball once per run."""
    path = os.path.join(WORK, "busybox.tar")
    if not os.path.exists(path):
        os.makedirs(WORK, exist_ok=True)
        run(["bash", os.path.join(REPO, "scripts", "make-busybox-image.sh"), path + ".tmp"])
        os.rename(path + ".tmp", path)
    return path


def unmount_below(prefix):
    """Lazily unmounts everything mounted at or below prefix, deepest first."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def remove_cgroup(name):
    """Removes the daemon's cgroup parent in every cgroup-v1 hierarchy once it is empty,
    deepest directories first (runc removes a container's own; the parent stays)."""
    if not name:
        return
    for controller in os.listdir("/sys/fs/cgroup"):
        root = os.path.join("/sys/fs/cgroup", controller, name)
        for directory, _, _ in sorted(os.walk(root), key=lambda w: len(w[0]), reverse=True):
            # EBUSY while killed container processes are still exiting: wait a little.
            for _ in range(40):
                try:
                    os.rmdir(directory)
                    break
                except OSError as error:
                    if error.errno != errno.EBUSY:
                        break
                    time.sleep(0.05)


class Host:
    """One test host: namespace + berthd + its directories."""

    def __init__(self, name=None, bip=None, extra_args=(), resolv_conf="nameserver 192.0.2.53\n"):
        self.id = uuid.uuid4().hex[:8]
        self.cgroup = None
        self.netns = name or f"berth-t-{self.id}"
        self.dir = os.path.join(WORK, self.id)
        self.root = os.path.join(self.dir, "root")
        self.exec_root = os.path.join(self.dir, "exec")
        self.socket = os.path.join(self.dir, "berth.sock")
        self.resolv = os.path.join(self.dir, "resolv.conf")
        self.log_path = os.path.join(self.dir, "berthd.log")
        self.bip = bip
        self.extra_args = list(extra_args)
        self.daemon = None
        self.helpers = []
        self.extra_netns = []
        os.makedirs(self.dir, exist_ok=True)
        with open(self.resolv, "w") as f:
            f.write(resolv_conf)
        run(["ip", "netns", "add", self.netns])
        self.sh("ip link set lo up")

    # --- commands -------------------------------------------------------------
    def sh(self, command, check=True, timeout=60):
        """Runs a shell command inside the host namespace."""
        return run(["ip", "netns", "exec", self.netns, "sh", "-c", command], check=check, timeout=timeout)

    def env(self):
        env = dict(os.environ)
        env.pop("BERTH_HOST", None)
        env.pop("DOCKER_HOST", None)
        return env

    def berth(self, *args, check=True, timeout=60):
        return run([BERTH, "-H", f"unix://{self.socket}", *args], check=check, timeout=timeout, env=self.env())

    def docker(self, *args, check=True, timeout=60):
        env = self.env()
        env["DOCKER_CONFIG"] = os.path.join(self.dir, "docker-config")
        return run(["docker", "-H", f"unix://{self.socket}", *args], check=check, timeout=timeout, env=env)

    def api(self, method, path, body=None, raw=None):
        """A raw HTTP call to the daemon's socket; returns (status, parsed body or text)."""
        cmd = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", self.socket, "-X", method,
               "-H", "Content-Type: application/json", f"http://localhost{path}"]
        if body is not None:
            cmd += ["--data-binary", json.dumps(body)]
        if raw is not None:
            cmd += ["--data-binary", raw]
        result = run(cmd)
        text, _, status = result.stdout.rpartition("\n")
        try:
            return int(status), json.loads(text) if text else None
        except json.JSONDecodeError:
            return int(status), text

    def inspect(self, name):
        return json.loads(self.berth("inspect", name).stdout)[0]

    def ip_of(self, name, network="bridge"):
        return self.inspect(name)["NetworkSettings"]["Networks"][network]["IPAddress"]

    def links(self, spares=False):
        """The host namespace's links; without the daemon's spare ports (veth pairs made ahead
        for the next container, alias SPARE_ALIAS) unless `spares`."""
        links = json.loads(self.sh("ip -j link show").stdout)
        return links if spares else [l for l in links if l.get("ifalias") != SPARE_ALIAS]

    def spare_ports(self):
        return [l for l in self.links(spares=True) if l.get("ifalias") == SPARE_ALIAS]

    # --- daemon lifecycle -----------------------------------------------------
    def start(self, wait=True):
        args = [BERTHD, "--root", self.root, "--exec-root", self.exec_root, "-H", f"unix://{self.socket}",
                "--resolv-conf", self.resolv, "--log-level", "debug", *self.extra_args]
        if self.bip:
            args += ["--bip", self.bip]
        log = open(self.log_path, "a")
        # nsenter switches only the network namespace: berthd's namespace files and
        # mounts live in the real mount namespace and survive a daemon restart.
        self.daemon = subprocess.Popen(["nsenter", f"--net=/run/netns/{self.netns}", *args],
                                       stdout=log, stderr=log, start_new_session=True)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.daemon.poll() is not None:
                raise AssertionError(f"berthd exited with {self.daemon.returncode}:\n{self.log()}")
            probe = subprocess.run(["curl", "-sf", "--unix-socket", self.socket, "http://localhost/_ping"],
                                   capture_output=True, text=True)
            if probe.returncode == 0 and probe.stdout == "OK":
                if self.cgroup is None:
                    # Containers go under the cgroup "berth-<first 12 of the daemon's ID>".
                    self.cgroup = "berth-" + self.api("GET", "/info")[1]["ID"][:12]
                return
            time.sleep(0.05)
        raise AssertionError(f"berthd did not answer within {timeout}s:\n{self.log()}")

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-5000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(sig)
            try:
                self.daemon.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.daemon = None

    def kill9(self):
        self.stop(signal.SIGKILL)

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    def import_busybox(self, name="busybox"):
        self.berth("image", "import", busybox_image(), name)

    def background(self, command):
        """Starts a helper process (a fake upstream server...) inside the host namespace;
        it is killed at cleanup."""
        process = subprocess.Popen(["ip", "netns", "exec", self.netns, *command], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        self.helpers.append(process)
        return process

    def fake_upstream(self, address="192.0.2.53", records=None):
        """dnsmasq on `address` inside the host namespace, answering only `records`
        ({name: ip}) and NXDOMAIN for everything else: never a real resolver."""
        name = "up" + str(len(self.helpers))
        self.sh(f"ip link add {name}a type veth peer name {name}b && ip addr add {address}/32 dev {name}a "
                f"&& ip link set {name}a up && ip link set {name}b up")
        args = ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
                f"--listen-address={address}", "--bind-interfaces", "--port=53",
                f"--pid-file={self.dir}/{name}.pid", "--user=root", "--log-facility=-"]
        for domain, ip in (records or {}).items():
            args.append(f"--address=/{domain}/{ip}")
        self.background(args)
        wait_until(lambda: f"{address}:53" in self.sh("ss -lun").stdout, message="dnsmasq to listen")

    def add_outside(self):
        """A second namespace on this host's uplink: the LAN client at 198.51.100.2 and
        "the internet" at 203.0.113.10 on its loopback, behind it. The host's default
        route points there, so nothing can leave for the real network."""
        outside = f"berth-o-{self.id}"
        run(["ip", "netns", "add", outside])
        self.extra_netns.append(outside)
        self.sh(f"ip link add uplink type veth peer name lan netns {outside}")
        self.sh("ip addr add 198.51.100.1/24 dev uplink && ip link set uplink up "
                "&& ip route add default via 198.51.100.2")
        run(["ip", "netns", "exec", outside, "sh", "-c",
             "ip link set lo up && ip addr add 203.0.113.10/32 dev lo && ip addr add 198.51.100.2/24 dev lan "
             "&& ip link set lan up"])
        return outside

    def background_in(self, netns, command):
        """A helper process in another namespace of this host; killed at cleanup."""
        process = subprocess.Popen(["ip", "netns", "exec", netns, *command], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        self.helpers.append(process)
        return process

    # --- cleanup --------------------------------------------------------------
    def cleanup(self):
        """Removes everything this host made; never raises."""
        try:
            self.stop(signal.SIGKILL, timeout=10)
        except Exception:
            pass
        for helper in self.helpers:
            try:
                os.killpg(helper.pid, signal.SIGKILL)
                helper.wait(timeout=5)
            except Exception:
                pass
        runc_root = os.path.join(self.exec_root, "runc")
        if os.path.isdir(runc_root):
            listed = subprocess.run(["runc", "--root", runc_root, "list", "-q"], capture_output=True, text=True)
            for cid in listed.stdout.split():
                subprocess.run(["runc", "--root", runc_root, "kill", cid, "KILL"], capture_output=True)
                subprocess.run(["runc", "--root", runc_root, "delete", "--force", cid], capture_output=True)
        unmount_below(self.dir)
        remove_cgroup(self.cgroup)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        for netns in self.extra_netns:
            subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def fails(host, *args):
    """Runs a berth command that must fail with exactly one error line; returns that line."""
    result = host.berth(*args, check=False)
    assert result.returncode != 0, f"{args} should have failed"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got: {result.stderr!r}"
    return lines[0]


def wait_until(predicate, timeout=10, interval=0.05, message="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")

"""Real firewall programs inside a test host's namespace: Debian's ufw, and a dockerd with
its own containerd (issue 15).

Both keep global state outside the network namespace (ufw: /etc/ufw, /etc/default/ufw,
/lib/ufw, /run/ufw.lock; dockerd and containerd: /etc/docker, /run/docker,
/run/containerd and their shims' sockets). Each runs in a private mount namespace where
copies in the test host's directory, or an empty tmpfs, cover those paths: the real
host's files are never written. Their rules land in the test namespace only, as
iptables-nft tables there.
"""
import os
import shutil
import signal
import subprocess
import time

from harness import busybox_image, remove_cgroup, run, wait_until


def _in_private_mounts(netns, script, *args):
    """argv running `script` (sh) in the namespace `netns` and a private mount namespace
    of its own (mounts made there vanish with its last process)."""
    return ["nsenter", f"--net=/run/netns/{netns}", "unshare", "-m", "--propagation", "private",
            "sh", "-c", script, "sh", *args]


class UfwInNamespace:
    """Debian's ufw driving the test host's namespace, from the package's default rules.

    ufw reads and writes /etc/ufw, /etc/default/ufw and /lib/ufw and locks /run/ufw.lock:
    every command gets copies of them bind-mounted in a mount namespace of its own, and
    IPT_SYSCTL points to an empty file, so ufw never writes a sysctl (its sysctl.conf would
    set the namespace's forwarding and more)."""

    def __init__(self, host):
        self.host = host
        self.dir = os.path.join(host.dir, "hf-ufw")
        self.etc = os.path.join(self.dir, "etc-ufw")
        self.lib = os.path.join(self.dir, "lib-ufw")
        self.default = os.path.join(self.dir, "default-ufw")
        os.makedirs(self.dir, exist_ok=True)
        shutil.copytree("/etc/ufw", self.etc, symlinks=True)
        shutil.copytree("/lib/ufw", self.lib, symlinks=True)
        # The package's rules and settings, not whatever the real host's admin changed.
        for name in ("before.rules", "after.rules", "user.rules", "before6.rules", "after6.rules", "user6.rules"):
            shutil.copy(os.path.join("/usr/share/ufw/iptables", name), os.path.join(self.etc, name))
        shutil.copy("/usr/share/ufw/ufw.conf", os.path.join(self.etc, "ufw.conf"))
        sysctl = os.path.join(self.dir, "sysctl.conf")
        open(sysctl, "w").close()
        # The package's defaults whatever the real host's admin set: deny incoming, deny
        # routed, allow outgoing, IPv6 too, and ufw leaves the built-in chains' rules alone.
        settings = {"IPV6": "yes", "DEFAULT_INPUT_POLICY": '"DROP"', "DEFAULT_OUTPUT_POLICY": '"ACCEPT"',
                    "DEFAULT_FORWARD_POLICY": '"DROP"', "DEFAULT_APPLICATION_POLICY": '"SKIP"',
                    "MANAGE_BUILTINS": "no", "IPT_MODULES": '""', "IPT_SYSCTL": sysctl}
        with open("/etc/default/ufw") as f:
            lines = [line for line in f.read().splitlines() if line.split("=", 1)[0] not in settings]
        with open(self.default, "w") as f:
            f.write("\n".join(lines + [f"{k}={v}" for k, v in settings.items()]) + "\n")

    def __call__(self, *args, check=True):
        """Runs `ufw ARGS...` in the test namespace; returns the CompletedProcess."""
        script = ('mount --bind "$1" /etc/ufw && mount --bind "$2" /etc/default/ufw && mount --bind "$3" /lib/ufw '
                  '&& mount -t tmpfs hf-ufw-run /run && shift 3 && exec ufw "$@"')
        return run(_in_private_mounts(self.host.netns, script, self.etc, self.default, self.lib, *args),
                   check=check, timeout=60)

    def enable(self):
        """ufw's defaults: deny incoming, deny routed, allow outgoing."""
        self("logging", "off")
        self("--force", "enable")
        return self


class DockerdInNamespace:
    """dockerd (Debian's 20.10) in the test host's namespace, with a containerd of its own.

    containerd gets a config naming only directories under the test host's (the real
    host's /etc/containerd/config.toml is never read), and dockerd is pointed at it with
    --containerd, so it never talks to a containerd of the real host. Containers go
    under the cgroup parent hf-docker-<host id>, removed at cleanup."""

    def __init__(self, host, bip="10.89.0.1/24"):
        self.host = host
        self.bip = bip
        self.dir = os.path.join(host.dir, "hfd")
        self.socket = os.path.join(self.dir, "docker.sock")
        self.containerd_socket = os.path.join(self.dir, "containerd.sock")
        self.cgroup = f"hf-docker-{host.id}"
        self.process = None
        self.mount_ns = None
        for sub in ("etc-docker", "data", "exec", "containerd-root", "containerd-state", "opt", "config"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        d = self.dir
        with open(os.path.join(d, "containerd.toml"), "w") as f:
            f.write(f'version = 2\nroot = "{d}/containerd-root"\nstate = "{d}/containerd-state"\n'
                    f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    f'[grpc]\n  address = "{self.containerd_socket}"\n'
                    f'[ttrpc]\n  address = "{self.containerd_socket}.ttrpc"\n'
                    f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{d}/opt"\n')
        with open(os.path.join(d, "daemon.json"), "w") as f:
            f.write("{}\n")

    def start(self, timeout=60):
        d = self.dir
        # A mount point is needed to cover it; making one would write the real host's /etc.
        assert os.path.isdir("/etc/docker"), "/etc/docker is missing (docker.io's package makes it)"
        # /run becomes an empty tmpfs: dockerd's and containerd's defaults there, and the
        # shims' sockets, stay private. /etc/docker (dockerd's key.json) likewise.
        script = (f'mount -t tmpfs hf-docker-run /run && mount --bind {d}/etc-docker /etc/docker '
                  f'&& {{ containerd --config {d}/containerd.toml >>{d}/containerd.log 2>&1 & }} '
                  f'&& i=0 && while [ ! -S {self.containerd_socket} ]; do i=$((i+1)); '
                  f'[ $i -gt 400 ] && echo "containerd did not start" && exit 1; sleep 0.05; done '
                  f'&& exec dockerd --config-file {d}/daemon.json --containerd {self.containerd_socket} '
                  f'--data-root {d}/data --exec-root {d}/exec --pidfile {d}/dockerd.pid -H unix://{self.socket} '
                  f'--bip {self.bip} --cgroup-parent {self.cgroup} --storage-driver vfs --log-level warn')
        log = open(os.path.join(d, "dockerd.log"), "a")
        self.process = subprocess.Popen(_in_private_mounts(self.host.netns, script), stdout=log, stderr=log,
                                        start_new_session=True)
        log.close()
        deadline = time.time() + timeout
        ours = os.readlink("/proc/self/ns/mnt")
        while True:
            # Known as soon as unshare made it, so that cleanup finds containerd even if
            # dockerd never answers.
            try:
                mount_ns = os.readlink(f"/proc/{self.process.pid}/ns/mnt")
                self.mount_ns = mount_ns if mount_ns != ours else self.mount_ns
            except OSError:
                pass
            if self.mount_ns and self.docker("version", check=False).returncode == 0:
                return self
            if self.process.poll() is not None or time.time() > deadline:
                raise AssertionError(f"dockerd did not start:\n{self.log()}")
            time.sleep(0.2)

    def log(self):
        text = ""
        for name in ("dockerd.log", "containerd.log"):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    text += f"--- {name}\n" + f.read()[-3000:]
            except OSError:
                pass
        return text

    def docker(self, *args, check=True, timeout=60):
        env = dict(os.environ)
        env.pop("DOCKER_HOST", None)
        env["DOCKER_CONFIG"] = os.path.join(self.dir, "config")
        return run(["docker", "-H", f"unix://{self.socket}", *args], check=check, timeout=timeout, env=env)

    def import_busybox(self, name="hfbb:latest"):
        self.docker("import", busybox_image(), name)
        return name

    def _processes_in_mount_ns(self):
        """dockerd, containerd and its shims: every process in the private mount namespace."""
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink(f"/proc/{pid}/ns/mnt") == self.mount_ns:
                    pids.append(int(pid))
            except OSError:
                pass
        return pids

    def _cgroup_tasks(self):
        pids = set()
        for controller in os.listdir("/sys/fs/cgroup"):
            for directory, _, files in os.walk(os.path.join("/sys/fs/cgroup", controller, self.cgroup)):
                for name in ("tasks", "cgroup.procs"):
                    if name in files:
                        try:
                            with open(os.path.join(directory, name)) as f:
                                pids.update(int(p) for p in f.read().split())
                        except OSError:
                            pass
        return pids

    def stop(self):
        """Stops dockerd (SIGTERM, as a service manager would), then everything it left.
        Its containers go first: dockerd waits seconds at SIGTERM for each one running."""
        if self.process and self.process.poll() is None:
            containers = self.docker("ps", "-aq", check=False, timeout=20).stdout.split()
            if containers:
                self.docker("rm", "-f", *containers, check=False, timeout=30)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)   # containerd, when the mount namespace is unknown
        except (AttributeError, ProcessLookupError):
            pass
        if self.mount_ns:
            for pid in self._processes_in_mount_ns():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            wait_until(lambda: not self._processes_in_mount_ns(), timeout=10, message="containerd and shims to exit")
        for pid in self._cgroup_tasks():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def cleanup(self):
        """Removes everything; never raises. The tmpfs and binds went with the mount namespace."""
        try:
            self.stop()
        except Exception:
            pass
        try:
            wait_until(lambda: not self._cgroup_tasks(), timeout=10, message="docker's containers to exit")
        except Exception:
            pass
        remove_cgroup(self.cgroup)
        shutil.rmtree(self.dir, ignore_errors=True)

"""Small helpers shared by the benchmark: commands, timing, statistics, cleanup, namespaces.

Everything the benchmark creates is registered with a `Cleanup` the moment it exists, so
a failure or Ctrl-C at any point still removes it. Network namespaces are the only place
network state is created: the real host's network is never changed.
"""
import ctypes
import os
import socket
import statistics
import subprocess
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def run(argv, check=True, timeout=120, **kw):
    """Runs a command (untimed) and returns its CompletedProcess with text output."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise CommandFailed(argv, p.returncode, p.stdout, p.stderr)
    return p


class CommandFailed(RuntimeError):
    """First line: the command's name and its last line of error output (what n/a shows)."""

    def __init__(self, argv, code, stdout, stderr):
        lines = (stderr or stdout or "").strip().splitlines() or ["(no output)"]
        words = [os.path.basename(str(argv[0]))] + [str(a) for a in argv[1:]]
        if "-H" in words:   # the socket path says nothing useful
            del words[words.index("-H"):words.index("-H") + 2]
        words = words[:4]
        super().__init__(f"{' '.join(words)}: exit {code}: {lines[-1]}\n{stdout}\n{stderr}")


def timed(argv, input=None, env=None, check=True):
    """Wall time in seconds of one whole command (fork+exec+exit), as the baselines measured."""
    t0 = time.perf_counter()
    p = subprocess.run(argv, input=input, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if check and p.returncode != 0:
        raise CommandFailed(argv, p.returncode, p.stdout, p.stderr)
    return dt


def stats(samples):
    """Median, p99 (nearest rank) and extremes of a list of numbers."""
    xs = sorted(samples)
    p99 = xs[min(len(xs) - 1, max(0, -(-99 * len(xs) // 100) - 1))]
    return dict(n=len(xs), median=statistics.median(xs), p99=p99, min=xs[0], max=xs[-1])



def rss_mb(pid):
    """Resident set size of one process in MB (VmRSS), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def mem_available_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_for(predicate, timeout, interval=0.01):
    """Polls until predicate() is true; returns the seconds it took, or None on timeout."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if predicate():
            return time.perf_counter() - t0
        time.sleep(interval)
    return None


def unmount_below(prefix):
    """Lazily unmounts everything mounted at or below prefix, deepest first."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def kill_cgroup(name):
    """SIGKILLs every process in the cgroup-v1 tree /<name> and removes its directories.
    Container processes are killed this way rather than with one `runc delete` each,
    which would take tens of seconds for a thousand containers."""
    roots = [os.path.join("/sys/fs/cgroup", c, name) for c in os.listdir("/sys/fs/cgroup")]
    roots = [r for r in roots if os.path.isdir(r)]
    for _ in range(50):
        pids = set()
        for root in roots:
            for d, _, files in os.walk(root):
                if "cgroup.procs" in files:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        pids.update(int(p) for p in f.read().split())
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    for root in roots:
        for d, _, _ in sorted(os.walk(root), key=lambda w: len(w[0]), reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass


def stale_socket(path):
    """True if nothing listens on the unix socket at path any more."""
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return False
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    except OSError:
        return False
    finally:
        s.close()


class Cleanup:
    """A stack of undo actions, run newest first; each failure is reported, never raised."""

    def __init__(self):
        self.actions = []

    def defer(self, what, fn, *args):
        self.actions.append((what, fn, args))

    def run(self):
        while self.actions:
            what, fn, args = self.actions.pop()
            try:
                fn(*args)
            except Exception as e:  # keep going: everything else must still be removed
                print(f"cleanup: {what}: {e}", flush=True)


def netns_batch(verb, names):
    """`ip netns add|del` for many namespaces in one ip process."""
    if names:
        subprocess.run(["ip", "-force", "-batch", "-"], input="".join(f"netns {verb} {n}\n" for n in names),
                       capture_output=True, text=True)


def netns_add(cleanup, names):
    names = list(names)
    cleanup.defer(f"netns del {len(names)}", netns_batch, "del", names)
    netns_batch("add", names)
    missing = set(names) - set(os.listdir("/run/netns"))
    if missing:
        raise RuntimeError(f"could not create namespaces {sorted(missing)[:3]}")
    for n in names:
        run(["ip", "-n", n, "link", "set", "lo", "up"])


class in_netns:
    """Moves the calling thread into /run/netns/NAME for the block: commands it starts
    there (netavark, CNI, nlfloor) work on that namespace's network, with no wrapper
    process added to what is timed."""

    def __init__(self, name):
        self.path = f"/run/netns/{name}"

    def __enter__(self):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {self.path}")
        finally:
            os.close(fd)

    def __exit__(self, *exc):
        if _libc.setns(self.home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back to the original namespace")
        os.close(self.home)


def host_snapshot():
    """What the real host's network looks like, to prove afterwards that nothing changed."""
    links = sorted(l.split()[0] for l in run(["ip", "-o", "-br", "link"]).stdout.splitlines())
    rules = run(["sh", "-c", "iptables-save 2>/dev/null | grep -v '^#' | wc -l"]).stdout.strip()
    routes = run(["ip", "route"]).stdout
    return dict(links=links, iptables_lines=rules, routes=routes)

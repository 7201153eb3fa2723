"""Throwaway clusters: several test hosts joined by an underlay, with real etcd.

The underlay is a bridge in a namespace of its own (10.99.0.0/24); each node is a test
host (its own namespace and berthd) with an `eth0` on that bridge at 10.99.0.N, and etcd
members run in the underlay namespace at 10.99.0.201... Nothing reaches the real network.
"""
import json
import os
import shutil
import signal
import subprocess
import time
import uuid

from harness import WORK, Host, run, wait_until

UNDERLAY_PREFIX = "10.99.0"


class Underlay:
    """The underlay namespace: the bridge nodes plug into, and the etcd members."""

    def __init__(self):
        self.id = uuid.uuid4().hex[:8]
        self.netns = f"berth-u-{self.id}"
        self.dir = os.path.join(WORK, "u-" + self.id)
        os.makedirs(self.dir, exist_ok=True)
        self.members = {}  # name -> (address, Popen)
        self.member_addresses = {}
        self.processes = []
        self.tls = None  # (ca, cert, key) when clients must use TLS
        run(["ip", "netns", "add", self.netns])
        self.sh(f"ip link set lo up && ip link add ul0 type bridge && ip link set ul0 up "
                f"&& ip addr add {UNDERLAY_PREFIX}.254/24 dev ul0")

    def sh(self, command, check=True, timeout=60):
        return run(["ip", "netns", "exec", self.netns, "sh", "-c", command], check=check, timeout=timeout)

    def plug(self, host, index):
        """Gives `host` an eth0 at 10.99.0.INDEX on the underlay bridge."""
        peer = f"ul{host.id}"[:15]
        self.sh(f"ip link add {peer} type veth peer name eth0 netns {host.netns} "
                f"&& ip link set {peer} master ul0 && ip link set {peer} up")
        host.sh(f"ip addr add {UNDERLAY_PREFIX}.{index}/24 dev eth0 && ip link set eth0 up")
        return f"{UNDERLAY_PREFIX}.{index}"

    # --- etcd -----------------------------------------------------------------
    def start_etcd(self, count=1, tls=False):
        """Starts `count` members at 10.99.0.201...; returns the --cluster-store value.
        With `tls`, clients must present a certificate signed by a CA made for the test."""
        names = [f"m{i + 1}" for i in range(count)]
        for i, name in enumerate(names):
            address = f"{UNDERLAY_PREFIX}.{201 + i}"
            self.sh(f"ip addr add {address}/24 dev ul0")
            self.member_addresses[name] = address
        if tls:
            self.tls = self.make_certificates(list(self.member_addresses.values()))
        self.initial_cluster = ",".join(f"{n}=http://{self.member_addresses[n]}:2380" for n in names)
        for name in names:
            self.start_member(name, state="new")
        wait_until(lambda: self.healthy(names), timeout=20, message="etcd to elect a leader")
        return self.store_url(names)

    def store_url(self, names=None):
        names = names or list(self.member_addresses)
        return "etcd://" + ",".join(f"{self.member_addresses[n]}:2379" for n in names)

    def make_certificates(self, addresses):
        """A CA, a server certificate for the members' addresses, and a client certificate."""
        d = self.dir
        with open(f"{d}/server.ext", "w") as f:
            f.write("subjectAltName=" + ",".join(f"IP:{a}" for a in addresses) + "\nextendedKeyUsage=serverAuth,clientAuth\n")
        with open(f"{d}/client.ext", "w") as f:
            f.write("extendedKeyUsage=clientAuth\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for step in (
            ["req", "-x509", *ec, "-keyout", f"{d}/ca-key.pem", "-out", f"{d}/ca.pem", "-days", "1", "-subj", "/CN=test CA"],
            ["req", *ec, "-keyout", f"{d}/server-key.pem", "-out", f"{d}/server.csr", "-subj", "/CN=etcd"],
            ["x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca-key.pem",
             "-CAcreateserial", "-out", f"{d}/server.pem", "-days", "1", "-extfile", f"{d}/server.ext"],
            ["req", *ec, "-keyout", f"{d}/client-key.pem", "-out", f"{d}/client.csr", "-subj", "/CN=berthd"],
            ["x509", "-req", "-in", f"{d}/client.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca-key.pem",
             "-CAcreateserial", "-out", f"{d}/client.pem", "-days", "1", "-extfile", f"{d}/client.ext"],
        ):
            run(["openssl", *step])
        return (f"{d}/ca.pem", f"{d}/client.pem", f"{d}/client-key.pem")

    def start_member(self, name, state="existing"):
        address = self.member_addresses[name]
        data = os.path.join(self.dir, f"etcd-{name}")
        log = open(os.path.join(self.dir, f"etcd-{name}.log"), "a")
        scheme = "https" if self.tls else "http"
        security = []
        if self.tls:
            security = ["--cert-file", f"{self.dir}/server.pem", "--key-file", f"{self.dir}/server-key.pem",
                        "--trusted-ca-file", f"{self.dir}/ca.pem", "--client-cert-auth"]
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "etcd", "--name", name, "--data-dir", data, *security,
             "--listen-client-urls", f"{scheme}://{address}:2379", "--advertise-client-urls", f"{scheme}://{address}:2379",
             "--listen-peer-urls", f"http://{address}:2380", "--initial-advertise-peer-urls", f"http://{address}:2380",
             "--initial-cluster", self.initial_cluster, "--initial-cluster-state", state,
             "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn"],
            stdout=log, stderr=log, start_new_session=True)
        log.close()
        self.members[name] = process
        self.processes.append(process)
        return process

    def stop_member(self, name, sig=signal.SIGKILL):
        process = self.members.pop(name, None)
        if process and process.poll() is None:
            os.killpg(process.pid, sig)
            process.wait(timeout=10)

    def etcdctl(self, *args, endpoints=None, check=True):
        scheme = "https" if self.tls else "http"
        endpoints = endpoints or ",".join(f"{scheme}://{a}:2379" for n, a in self.member_addresses.items() if n in self.members)
        security = ["--cacert", self.tls[0], "--cert", self.tls[1], "--key", self.tls[2]] if self.tls else []
        return run(["ip", "netns", "exec", self.netns, "etcdctl", *security, "--endpoints", endpoints, "--dial-timeout", "2s",
                    "--command-timeout", "3s", *args], check=check, env={**os.environ, "ETCDCTL_API": "3"})

    def status(self):
        """Per running member: its status (leader, revision...)."""
        result = self.etcdctl("endpoint", "status", "-w", "json", check=False)
        try:
            return json.loads(result.stdout) if result.returncode == 0 else []
        except json.JSONDecodeError:
            return []

    def healthy(self, names):
        statuses = self.status()
        return len(statuses) == len(names) and all(s["Status"]["leader"] != 0 for s in statuses)

    def leader(self):
        for status in self.status():
            if status["Status"]["leader"] == status["Status"]["header"]["member_id"]:
                endpoint = status["Endpoint"]
                return next(n for n, a in self.member_addresses.items() if a in endpoint)
        return None

    def revision(self):
        return max(s["Status"]["header"]["revision"] for s in self.status())

    def cleanup(self):
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            except Exception:
                pass
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Cluster:
    """An underlay, etcd, and `nodes` berthd hosts in cluster mode."""

    def __init__(self, make_host, nodes=3, members=1, ttl=3, tls=False):
        self.underlay = Underlay()
        self.store = self.underlay.start_etcd(members, tls=tls)
        self.ttl = ttl
        self.nodes = []
        for index in range(1, nodes + 1):
            host = make_host(start=False)
            address = self.underlay.plug(host, index)
            host.advertise = address
            host.extra_args += ["--cluster-store", self.store, "--cluster-advertise", address,
                                "--cluster-store-opt", f"discovery.ttl={ttl}"]
            if tls:
                ca, cert, key = self.underlay.tls
                host.extra_args += ["--cluster-store-opt", f"kv.cacertfile={ca}", "--cluster-store-opt", f"kv.certfile={cert}",
                                    "--cluster-store-opt", f"kv.keyfile={key}"]
            host.start()
            host.import_busybox()
            self.nodes.append(host)

    def cleanup(self):
        self.underlay.cleanup()


def sandbox(host, name):
    return host.inspect(name)["NetworkSettings"]["SandboxKey"]


def in_container(host, name, command, check=True, timeout=30):
    """Runs a host tool (iputils ping, python) inside the container's network namespace."""
    return run(["nsenter", f"--net={sandbox(host, name)}", *command], check=check, timeout=timeout)

"""A lost, emptied or rolled-back state database never kills running containers: berthd
refuses to start with one line naming the ways out, and `--recover` takes them back."""
import os
import signal
import time

from harness import run

RECOVER = "--recover"


def db(host):
    return os.path.join(host.root, "berth.db")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def runc_ids(host):
    return run(["runc", "--root", os.path.join(host.exec_root, "runc"), "list", "-q"]).stdout.split()


def start_refused(host):
    """Starts berthd, expects it to exit non-zero; returns its one critical line."""
    with open(host.log_path) as f:
        mark = len(f.read())
    host.start(wait=False)
    try:
        host.daemon.wait(timeout=20)
    except Exception:
        host.kill9()
        raise AssertionError("berthd started although its state does not account for a running container")
    assert host.daemon.returncode != 0
    host.daemon = None
    with open(host.log_path) as f:
        output = f.read()[mark:]
    critical = [line for line in output.splitlines() if "critical" in line]
    assert len(critical) == 1, output
    assert "stray" not in output, output   # nothing was removed on the way
    return critical[0]


def launch_c1(host):
    host.berth("run", "-d", "--name", "c1", "-e", "DB_PASSWORD=hunter2", "busybox", "sleep", "100000")
    c1 = host.inspect("c1")
    return c1["Id"], c1["State"]["Pid"], c1["NetworkSettings"]["IPAddress"]


def still_working(host, cid, pid, ip):
    assert alive(pid), "c1's process was killed"
    assert cid in runc_ids(host)
    host.sh(f"ping -c 1 -W 2 {ip}")


def recover_and_remove(host, cid, pid, ip):
    host.extra_args.append(RECOVER)
    host.start()
    host.extra_args.remove(RECOVER)
    c1 = host.inspect("c1")
    assert c1["Id"] == cid and c1["State"]["Running"] and c1["State"]["Pid"] == pid
    assert c1["NetworkSettings"]["IPAddress"] == ip
    host.berth("exec", "c1", "ping", "-c", "1", "-W", "2", ip)
    # Back under management: a plain restart keeps it, and rm -f removes all of it.
    host.restart(signal.SIGKILL)
    assert host.inspect("c1")["State"]["Pid"] == pid
    host.berth("run", "-d", "--name", "c2", "busybox", "sleep", "600")
    assert host.ip_of("c2") != ip
    host.berth("rm", "-f", "c1", "c2")
    deadline = time.time() + 10
    while alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    assert runc_ids(host) == []
    deadline = time.time() + 10
    while [l for l in host.links() if l.get("master") == "berth0"] and time.time() < deadline:
        time.sleep(0.05)
    assert [l["ifname"] for l in host.links() if l.get("master") == "berth0"] == []
    assert [f for f in os.listdir(os.path.join(host.exec_root, "netns")) if not f.startswith("spare-")] == []


def test_emptied_database_refuses_and_recover_takes_containers_back(host):
    cid, pid, ip = launch_c1(host)
    host.stop()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db(host) + suffix):
            open(db(host) + suffix, "w").close()
    line = start_refused(host)
    assert RECOVER in line and ("c1" in line or cid[:12] in line), line
    still_working(host, cid, pid, ip)
    recover_and_remove(host, cid, pid, ip)


def test_deleted_database_refuses_and_recover_takes_containers_back(host):
    cid, pid, ip = launch_c1(host)
    host.kill9()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db(host) + suffix):
            os.remove(db(host) + suffix)
    assert RECOVER in start_refused(host)
    still_working(host, cid, pid, ip)
    recover_and_remove(host, cid, pid, ip)


def test_overwritten_wal_after_kill9_refuses_and_recover_takes_containers_back(host):
    cid, pid, ip = launch_c1(host)
    host.kill9()
    wal = db(host) + "-wal"
    assert os.path.getsize(wal) > 0, "the run should still be in the WAL after kill -9"
    with open(wal, "r+b") as f:
        f.write(os.urandom(os.path.getsize(wal)))
    assert RECOVER in start_refused(host)
    still_working(host, cid, pid, ip)
    recover_and_remove(host, cid, pid, ip)


def test_garbage_database_refuses_and_recover_keeps_it_aside(host):
    cid, pid, ip = launch_c1(host)
    host.kill9()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(db(host) + suffix):
            os.remove(db(host) + suffix)
    with open(db(host), "wb") as f:
        f.write(b"this is not a database\n" * 200)
    assert RECOVER in start_refused(host)
    still_working(host, cid, pid, ip)
    recover_and_remove(host, cid, pid, ip)
    kept = [f for f in os.listdir(host.root) if f.startswith("berth.db.unreadable-")]
    assert len(kept) == 1   # the unreadable file is kept for the user, never deleted


def test_user_network_comes_back_with_its_container(host):
    host.berth("network", "create", "--subnet", "10.77.0.0/24", "appnet")
    host.berth("run", "-d", "--name", "c1", "--network", "appnet", "busybox", "sleep", "100000")
    c1 = host.inspect("c1")
    cid, pid, ip = c1["Id"], c1["State"]["Pid"], host.ip_of("c1", "appnet")
    host.stop()
    os.remove(db(host))
    start_refused(host)
    assert alive(pid)
    host.sh(f"ping -c 1 -W 2 {ip}")
    host.extra_args.append(RECOVER)
    host.start()
    host.extra_args.remove(RECOVER)
    assert host.ip_of("c1", "appnet") == ip
    host.berth("run", "-d", "--name", "c2", "--network", "appnet", "busybox", "sleep", "600")
    host.berth("exec", "c2", "ping", "-c", "1", "-W", "2", "c1")
    host.berth("rm", "-f", "c1", "c2")
    host.berth("network", "rm", "appnet")


def test_explicit_reset_removes_what_the_state_does_not_know(host):
    cid, pid, ip = launch_c1(host)
    host.stop()
    os.remove(db(host))
    line = start_refused(host)
    assert "--remove-unrecorded" in line, line
    host.extra_args.append("--remove-unrecorded")
    host.start()
    host.extra_args.remove("--remove-unrecorded")
    deadline = time.time() + 10
    while alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(pid) and runc_ids(host) == []


def test_normal_restarts_still_start_without_flags(host):
    cid, pid, ip = launch_c1(host)
    host.berth("run", "-d", "--name", "gone", "busybox", "sleep", "600")
    host.berth("rm", "-f", "gone")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        host.restart(sig)
        still_working(host, cid, pid, ip)
        assert host.inspect("c1")["State"]["Running"]

"""Issue 2: daemon restart and kill -9 lose nothing and leak nothing."""
import os
import signal

from harness import run, wait_until


def veths(host):
    return sorted(l["ifname"] for l in host.links() if l.get("master") == "berth0")


def test_restart_and_kill9_keep_running_containers_networked(host):
    host.berth("run", "-d", "--name", "a", "busybox", "sleep", "600")
    host.berth("run", "-d", "--name", "b", "busybox", "sleep", "600")
    ip_a, ip_b = host.ip_of("a"), host.ip_of("b")
    before = veths(host)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        host.restart(sig)
        assert host.inspect("a")["State"]["Running"]
        assert host.ip_of("a") == ip_a and host.ip_of("b") == ip_b
        assert veths(host) == before
        host.berth("exec", "a", "ping", "-c", "1", "-W", "2", ip_b)
        # A new container after the restart does not get an address in use.
        host.berth("run", "-d", "--name", f"new{sig}", "busybox", "sleep", "600")
        assert host.ip_of(f"new{sig}") not in (ip_a, ip_b)
        host.berth("rm", "-f", f"new{sig}")
    # Stop and exit are still noticed for containers started by the earlier daemon.
    host.berth("stop", "-t", "1", "a")
    assert host.inspect("a")["State"]["Status"] == "exited"
    wait_until(lambda: len(veths(host)) == 1, message="a's veth to go")


def test_containers_that_died_while_daemon_was_down_are_cleaned(host):
    host.berth("run", "-d", "--name", "victim", "busybox", "sleep", "600")
    host.berth("run", "-d", "--name", "survivor", "busybox", "sleep", "600")
    victim_key = host.inspect("victim")["NetworkSettings"]["SandboxKey"]
    pid = host.inspect("victim")["State"]["Pid"]
    host.kill9()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}/stat") or open(f"/proc/{pid}/stat").read().split()[2] == "Z",
               message="victim to die")
    host.start()
    state = host.inspect("victim")["State"]
    assert state["Status"] == "exited" and not state["Running"]
    assert len(veths(host)) == 1
    assert not os.path.exists(victim_key)
    assert os.path.exists(host.inspect("survivor")["NetworkSettings"]["SandboxKey"])
    runc = run(["runc", "--root", os.path.join(host.exec_root, "runc"), "list", "-q"]).stdout.split()
    assert runc == [host.inspect("survivor")["Id"]]
    # The dead container can start again, on an address nobody else holds.
    host.berth("start", "victim")
    assert host.inspect("victim")["State"]["Running"]
    assert host.ip_of("victim") != host.ip_of("survivor")


def test_leftovers_from_a_crash_are_removed_on_start(host):
    host.berth("run", "-d", "--name", "keep", "busybox", "sleep", "600")
    host.kill9()
    # Simulate a crash in the middle of a start: a veth on the bridge named as berth names
    # container ports ("veth" and 7 hex digits) and a namespace file that no container owns.
    host.sh("ip link add vethdead000 type veth peer name vethdead001 && ip link set vethdead000 master berth0")
    stray = os.path.join(host.exec_root, "netns", "0" * 64)
    open(stray, "w").close()
    host.start()
    names = [l["ifname"] for l in host.links()]
    assert "vethdead000" not in names and "vethdead001" not in names
    assert not os.path.exists(stray)
    assert host.inspect("keep")["State"]["Running"]

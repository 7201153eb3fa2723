"""A full or read-only --root: the API keeps telling the truth about what runc and the
kernel hold, every failed write is reported with its path and reason, and leftovers are
cleaned at the next start.

The root is a small tmpfs (or a bind mount) the test mounts below the host's own
directory; the harness unmounts everything there at cleanup, pass or fail.
"""
import json
import os
import subprocess
import time

from harness import run


def runc_states(host):
    listed = run(["runc", "--root", os.path.join(host.exec_root, "runc"), "list", "--format", "json"])
    return {entry["id"]: entry["status"] for entry in json.loads(listed.stdout or "null") or []}


def container_dirs(host):
    directory = os.path.join(host.root, "containers")
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def fill(path):
    """Writes zeros until the filesystem is full."""
    with open(os.path.join(path, "filler"), "wb") as f:
        block = b"\0" * (1 << 20)
        try:
            while True:
                f.write(block)
                f.flush()
        except OSError:
            pass
    # Whatever few bytes are left in partly used blocks.
    for i in range(64):
        try:
            with open(os.path.join(path, f"filler{i}"), "wb") as f:
                f.write(b"\0" * 4096)
        except OSError:
            break


def one_line_error(result):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line: {result.stderr!r}"
    return lines[0]


def assert_api_matches_runc(host, name):
    """A container the API calls running is running in runc, and the other way round."""
    cid = host.inspect(name)["Id"]
    running_in_runc = runc_states(host).get(cid) == "running"
    assert host.inspect(name)["State"]["Running"] == running_in_runc
    listed = host.berth("ps", "-q", "--no-trunc").stdout.split()
    assert (cid in listed) == running_in_runc


def test_full_root_rm_stop_run_tell_the_truth_and_restart_cleans(make_host):
    host = make_host(start=False)
    os.makedirs(host.root)
    run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "berth-test-root", host.root])
    host.start()
    host.import_busybox()
    host.berth("run", "-d", "--name", "c1", "busybox", "sleep", "100000")
    host.berth("run", "-d", "--name", "c2", "busybox", "sleep", "100000")
    host.berth("run", "-d", "--name", "c3", "busybox", "sleep", "100000")
    c1 = host.inspect("c1")["Id"]
    fill(host.root)

    started = time.monotonic()
    removed = host.berth("rm", "-f", "c1", check=False)
    assert time.monotonic() - started < 20, "rm -f must not wait for a stop that already happened"
    if removed.returncode != 0:
        line = one_line_error(removed)
        assert "no space left on device" in line.lower(), line
        assert "did not stop" not in line and "does not exist" not in line, line
        # The container was killed: the API must not say it is running.
        assert_api_matches_runc(host, "c1")
        assert not host.inspect("c1")["State"]["Running"]
    else:
        assert c1 not in runc_states(host)
        assert host.berth("inspect", "c1", check=False).returncode != 0

    stopped = host.berth("stop", "-t", "0", "c2", check=False)
    if stopped.returncode != 0:
        assert "no space left on device" in one_line_error(stopped).lower()
    assert_api_matches_runc(host, "c2")
    assert not host.inspect("c2")["State"]["Running"]

    ran = host.berth("run", "-d", "--name", "c4", "busybox", "sleep", "100000", check=False)
    line = one_line_error(ran)
    assert "no space left on device" in line.lower(), line
    listed = host.berth("ps", "-a", "--format", "{{.Names}}").stdout.split()
    if "c4" in listed:
        assert_api_matches_runc(host, "c4")
    assert_api_matches_runc(host, "c3")

    for entry in os.listdir(host.root):
        if entry.startswith("filler"):
            os.remove(os.path.join(host.root, entry))
    host.restart()
    for name in ("c1", "c2", "c3", "c4"):
        host.berth("rm", "-f", name, check=False)
    assert host.berth("ps", "-aq").stdout.split() == []
    assert runc_states(host) == {}
    assert container_dirs(host) == []


def test_read_only_containers_dir_rm_reports_failure_and_restart_cleans(make_host):
    host = make_host(start=False)
    containers = os.path.join(host.root, "containers")
    os.makedirs(containers)
    # A mount point of its own, so it can be made read-only without touching anything else.
    # (The whole root cannot be: the open database keeps it busy.)
    run(["mount", "--bind", containers, containers])
    host.start()
    host.import_busybox()
    host.berth("run", "-d", "--name", "c1", "busybox", "true")
    c1 = host.inspect("c1")["Id"]
    time.sleep(0.5)
    for _ in range(100):
        if not host.inspect("c1")["State"]["Running"]:
            break
        time.sleep(0.1)
    remount = subprocess.run(["mount", "-o", "remount,bind,ro", containers], capture_output=True, text=True)
    assert remount.returncode == 0, remount.stderr

    removed = host.berth("rm", "-f", "c1", check=False)
    if removed.returncode == 0:
        # Success is only the truth if nothing of it is left.
        assert c1 not in container_dirs(host), "rm -f reported success but containers/<id> is still there"
    else:
        line = one_line_error(removed)
        assert "read-only file system" in line.lower(), line
        assert c1 in line, line
        # Still listed, so another rm can finish the job once the disk is fixed.
        assert not host.inspect("c1")["State"]["Running"]
    assert c1 not in runc_states(host)

    run(["mount", "-o", "remount,bind,rw", containers])
    host.restart()
    host.berth("rm", "-f", "c1", check=False)
    assert host.berth("ps", "-aq").stdout.split() == []
    assert container_dirs(host) == []


def test_unrecorded_container_directory_is_removed_at_start(make_host):
    """A containers/<id> that neither a record nor runc knows (an older berth's rm that
    failed half-way) goes at the next start; a stopped container's own directory stays."""
    host = make_host()
    host.berth("run", "-d", "--name", "kept", "busybox", "true")
    kept = host.inspect("kept")["Id"]
    host.stop()
    orphan = os.path.join(host.root, "containers", "ab" * 32)
    os.makedirs(os.path.join(orphan, "bundle"))
    with open(os.path.join(orphan, "bundle", "config.json"), "w") as f:
        f.write("{}")
    not_an_id = os.path.join(host.root, "containers", "notes")
    os.makedirs(not_an_id)
    host.start()
    assert "ab" * 32 not in container_dirs(host)
    assert kept in container_dirs(host)
    assert "notes" in container_dirs(host), "only directories named like berth's IDs are berth's"
    host.berth("rm", "-f", "kept")

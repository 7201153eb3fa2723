"""Containers' secrets (their environment, in the store and in runc bundles) are readable
by root only, on new installs and on installs made before this was so."""
import os
import stat
import subprocess

SECRET = "DB_PASSWORD=hunter2-" + os.urandom(4).hex()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def readable_by_nobody(path):
    """True if user nobody can read the file (opening it is enough)."""
    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                             "head", "-c", "1", path], capture_output=True)
    return result.returncode == 0


def grep_as_nobody(*paths):
    """What user nobody finds of the secret below the paths."""
    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                             "grep", "-rl", SECRET.split("=")[1], *paths], capture_output=True, text=True)
    return result.stdout.split()


def secret_files(host, cid):
    db = os.path.join(host.root, "berth.db")
    return {
        "root": host.root,
        "exec-root": host.exec_root,
        "db": db,
        "wal": db + "-wal",
        "shm": db + "-shm",
        "config.json": os.path.join(host.root, "containers", cid, "bundle", "config.json"),
    }


def check_private(host, cid):
    paths = secret_files(host, cid)
    for name in ("root", "exec-root"):
        assert mode(paths[name]) & 0o077 == 0, f"{name} is {oct(mode(paths[name]))}"
    for name in ("db", "wal", "shm", "config.json"):
        assert os.path.exists(paths[name]), name
        assert mode(paths[name]) == 0o600, f"{name} is {oct(mode(paths[name]))}"
        assert not readable_by_nobody(paths[name]), f"nobody can read {name}"
    # The secret is really in there (the test can fail), and nobody finds it anywhere.
    with open(paths["config.json"]) as f:
        assert SECRET in f.read()
    assert grep_as_nobody(host.root, host.exec_root) == []


def test_store_and_bundles_are_private(host):
    host.berth("run", "-d", "--name", "c1", "-e", SECRET, "busybox", "sleep", "600")
    cid = host.inspect("c1")["Id"]
    check_private(host, cid)
    # The container itself still reads its files and runs as before.
    assert host.berth("exec", "c1", "cat", "/etc/hostname").stdout.strip() == cid[:12]
    assert SECRET in host.berth("exec", "c1", "env").stdout


def test_an_older_install_is_made_private_at_start(host):
    host.berth("run", "-d", "--name", "c1", "-e", SECRET, "busybox", "sleep", "600")
    cid = host.inspect("c1")["Id"]
    host.stop()
    # What earlier versions left: everything world-readable.
    paths = secret_files(host, cid)
    for name in ("root", "exec-root"):
        os.chmod(paths[name], 0o755)
    for name in ("db", "wal", "shm", "config.json"):
        if os.path.exists(paths[name]):
            os.chmod(paths[name], 0o644)
    assert readable_by_nobody(paths["config.json"])
    host.start()
    check_private(host, cid)
    assert host.inspect("c1")["State"]["Running"]
    # The socket stays root's (0660), as before.
    assert mode(host.socket) & 0o007 == 0 and os.stat(host.socket).st_uid == 0

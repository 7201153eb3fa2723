"""runc runs in a mount namespace of berthd's own that keeps only what it needs: mounts the
host has (before or after berthd started) and the namespace files never show up there, and
container roots never show up in the host's table."""
import os
import subprocess

from harness import unmount_below


def launch_thread_mounts(host):
    """The mount points the daemon's launch thread sees."""
    pid = host.daemon.pid
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == "berth-launch":
                with open(f"/proc/{pid}/task/{tid}/mountinfo") as info:
                    return [line.split()[4] for line in info]
    raise AssertionError("no berth-launch thread")


def test_runc_sees_only_what_it_needs_and_roots_stay_off_the_host(make_host):
    host = make_host(start=False)
    before = os.path.join(host.dir, "mnt-before")
    after = os.path.join(host.dir, "mnt-after")
    try:
        os.makedirs(before)
        os.makedirs(after)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", before], check=True)
        host.start()
        host.import_busybox()
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", after], check=True)
        host.berth("run", "-d", "--name", "c", "busybox", "sleep", "600")
        seen = launch_thread_mounts(host)
        assert before not in seen and after not in seen
        assert not [m for m in seen if m.startswith(host.exec_root + "/netns")]
        assert "/proc" in seen and any(m.startswith("/sys/fs/cgroup") for m in seen)
        # The container's root was mounted for runc only, and taken down there after.
        container = host.inspect("c")["Id"]
        rootfs = os.path.join(host.root, "containers", container, "rootfs")
        assert rootfs not in seen
        with open("/proc/self/mountinfo") as info:
            assert rootfs not in [line.split()[4] for line in info]
        # The container works on its own copy, and its table holds none of the host's.
        host.berth("exec", "c", "touch", "/written")
        assert os.path.exists(os.path.join(host.root, "containers", container, "upper", "written"))
        inside = host.berth("exec", "c", "cat", "/proc/self/mountinfo").stdout
        assert before not in inside and after not in inside and host.exec_root not in inside
        host.berth("exec", "c", "ping", "-c", "1", "-W", "2", host.inspect("c")["NetworkSettings"]["Gateway"])
        # Stopped and started again: a fresh mount for runc, the same upper directory.
        host.berth("stop", "-t", "0", "c")
        host.berth("start", "c")
        # The file written before the stop is there: the new mount has the same upper directory.
        assert "written" in host.berth("exec", "c", "ls", "/").stdout.split()
        assert rootfs not in launch_thread_mounts(host)
    finally:
        unmount_below(before)
        unmount_below(after)

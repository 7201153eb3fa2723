"""exec and logs never drop output, whatever the timing.

The end of a stream is EOF on the process's pipes (or the log file once the container
has exited), never the exit notification; the exit code comes after all output.
The stress test loads the machine with CPU hogs it starts in the test's own namespace
(killed at cleanup, pass or fail) so that exit notification and pipe draining race.
"""
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

from harness import BERTH, wait_until


def start_hogs(host, count):
    """Busy loops in the host namespace; the harness kills them at cleanup."""
    return [host.background(["sh", "-c", "while :; do :; done"]) for _ in range(count)]


def exec_raw(host, *args, timeout=60):
    """`berth exec` with bytes output (large or binary outputs)."""
    return subprocess.run([BERTH, "-H", f"unix://{host.socket}", "exec", *args], capture_output=True,
                          timeout=timeout, env=host.env())


def test_short_lived_exec_output_is_never_dropped_under_load(host):
    host.berth("run", "-d", "--name", "c", "busybox", "sleep", "600")
    start_hogs(host, (os.cpu_count() or 2) * 2)
    checks = [
        (("c", "cat", "/proc/1/cmdline"), b"sleep\x00600\x00"),
        (("c", "echo", "hi"), b"hi\n"),
        (("c", "sh", "-c", "head -c 100000 /dev/zero | wc -c"), b"100000\n"),
    ]

    def one(i):
        args, expected = checks[i % len(checks)]
        result = exec_raw(host, *args)
        return args, result.returncode, result.stdout, result.stderr, expected

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, range(210)))
    bad = [(args, code, out[:80], err[:200]) for args, code, out, err, expected in results
           if code != 0 or out != expected]
    assert not bad, f"{len(bad)} of {len(results)} execs lost or changed output, e.g. {bad[:3]}"


def test_large_outputs_arrive_whole_and_in_order_on_their_own_streams(host):
    host.berth("run", "-d", "--name", "c", "busybox", "sleep", "600")
    result = exec_raw(host, "c", "sh", "-c", "seq 1 400000; seq 1 200000 >&2; seq 5 7", timeout=120)
    assert result.returncode == 0, result.stderr[-300:]
    expected_out = "".join(f"{n}\n" for n in range(1, 400001)) + "5\n6\n7\n"
    expected_err = "".join(f"{n}\n" for n in range(1, 200001))
    assert len(result.stdout) > 2_000_000
    assert result.stdout.decode() == expected_out
    assert result.stderr.decode() == expected_err


def test_exit_code_comes_after_all_output(host):
    host.berth("run", "-d", "--name", "c", "busybox", "sleep", "600")
    for _ in range(20):
        result = exec_raw(host, "c", "sh", "-c", "echo out; echo err >&2; exit 3")
        assert (result.returncode, result.stdout, result.stderr) == (3, b"out\n", b"err\n")


def test_logs_of_a_container_that_exits_at_once_are_whole(host):
    host.berth("run", "-d", "--name", "quick", "busybox", "echo", "hi")
    host.berth("run", "-d", "--name", "big", "busybox", "sh", "-c", "seq 1 100000; seq 1 50000 >&2")
    for name in ("quick", "big"):
        wait_until(lambda: not host.inspect(name)["State"]["Running"], message=f"{name} to exit")
    assert host.berth("logs", "quick").stdout == "hi\n"
    logs = host.berth("logs", "big")
    # berth keeps one log per container (stderr goes in with stdout): check what it holds, whole.
    out = "".join(f"{n}\n" for n in range(1, 100001))
    err = "".join(f"{n}\n" for n in range(1, 50001))
    assert logs.stdout + logs.stderr in (out + err, err + out) or sorted((logs.stdout, logs.stderr)) == sorted((out, err))

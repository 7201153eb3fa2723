"""Issue 14: attached `docker run`, `-i`, `-it`, attach, start -a -i, logs, exec -i/-t,
detach keys, and output capture that survives berthd being killed."""
import json
import re
import shutil
import socket
import subprocess
import time

import pytest

from harness import BERTH, wait_until
from stdio_support import Terminal, docker_piped

TIMESTAMP = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z "


def test_attached_run_separates_streams_and_returns_the_exit_code(host):
    result = docker_piped(host, "run", "--name", "a", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert result.returncode == 3, result.stderr
    assert result.stdout == b"out\n"
    assert result.stderr == b"err\n"


def test_output_of_a_container_that_exits_at_once_is_never_lost(host):
    for i in range(10):
        result = docker_piped(host, "run", "--rm", "busybox", "echo", f"hello{i}")
        assert (result.returncode, result.stdout) == (0, f"hello{i}\n".encode()), result.stderr


def test_run_rm_leaves_nothing(host):
    result = docker_piped(host, "run", "--rm", "--name", "gone", "busybox", "sh", "-c", "echo bye; exit 4")
    assert (result.returncode, result.stdout) == (4, b"bye\n"), result.stderr
    assert host.docker("ps", "-aq").stdout.strip() == ""


def test_piped_stdin_reaches_the_container_and_its_end_ends_it(host):
    result = docker_piped(host, "run", "-i", "busybox", "cat", stdin=b"hi\n")
    assert (result.returncode, result.stdout) == (0, b"hi\n"), result.stderr
    big = b"".join(b"%d\n" % n for n in range(200000))
    result = docker_piped(host, "run", "-i", "--rm", "busybox", "wc", "-l", stdin=big, timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, b"200000"), result.stderr


def test_start_attach_interactive(host):
    host.docker("create", "-i", "--name", "c", "busybox", "cat")
    result = docker_piped(host, "start", "-a", "-i", "c", stdin=b"hello\n")
    assert (result.returncode, result.stdout) == (0, b"hello\n"), result.stderr


def test_attach_to_a_running_container_follows_it_to_its_exit(host):
    host.docker("run", "-d", "--name", "c", "busybox", "sh", "-c", "sleep 2; echo late; exit 7")
    result = docker_piped(host, "attach", "c")
    assert (result.returncode, result.stdout) == (7, b"late\n"), result.stderr


def test_logs_tail_timestamps_since_and_streams(host):
    host.docker("run", "-d", "--name", "c", "busybox", "sh", "-c",
                "for i in 1 2 3 4; do echo line$i; done; sleep 0.3; echo oops >&2; sleep 600")
    wait_until(lambda: "oops" in host.docker("logs", "c").stderr)
    logs = docker_piped(host, "logs", "c")
    assert logs.stdout == b"line1\nline2\nline3\nline4\n"
    assert logs.stderr == b"oops\n"
    tail = docker_piped(host, "logs", "--tail", "2", "-t", "c")
    # The last two entries: line4 on stdout, oops on stderr (two pipes: ordered by when read).
    assert re.fullmatch(TIMESTAMP + rb"line4\n", tail.stdout), tail.stdout
    assert re.fullmatch(TIMESTAMP + rb"oops\n", tail.stderr), tail.stderr
    assert docker_piped(host, "logs", "--since", "1h", "c").stdout.count(b"line") == 4
    future = docker_piped(host, "logs", "--since", "2100-01-01T00:00:00Z", "c")
    assert (future.stdout, future.stderr) == (b"", b"")
    path = host.inspect("c")["LogPath"]
    assert path.endswith("-json.log")
    with open(path) as f:
        first = json.loads(f.readline())
    assert first["log"] == "line1\n" and first["stream"] == "stdout" and first["time"].endswith("Z")
    status, _ = host.api("GET", "/containers/c/logs?stdout=1&tail=x")
    assert status == 400
    assert host.inspect("c")["HostConfig"]["LogConfig"]["Type"] == "json-file"
    # Other log drivers and options would not be honoured: refused, named.
    refused = docker_piped(host, "create", "--log-driver", "syslog", "busybox")
    assert refused.returncode != 0 and b"syslog" in refused.stderr
    refused = docker_piped(host, "create", "--log-opt", "max-size=1m", "busybox")
    assert refused.returncode != 0 and b"max-size" in refused.stderr
    # berth's own CLI.
    assert re.fullmatch(TIMESTAMP.decode() + "oops\n", host.berth("logs", "--tail", "1", "-t", "c").stderr)


def test_logs_follow_ends_with_the_container(host):
    host.docker("run", "-d", "--name", "c", "busybox", "sh", "-c", "for i in 1 2 3; do echo n$i; sleep 0.3; done")
    result = docker_piped(host, "logs", "-f", "c", timeout=30)
    assert result.stdout == b"n1\nn2\nn3\n"


def test_wait_conditions(host):
    host.docker("create", "--name", "c", "busybox", "sh", "-c", "exit 9")
    status, body = host.api("POST", "/containers/c/wait?condition=bogus")
    assert status == 400
    # not-running: a created container is not running.
    assert host.api("POST", "/containers/c/wait")[1]["StatusCode"] == 0
    result = docker_piped(host, "start", "-a", "c")
    assert result.returncode == 9


def test_interactive_terminal_run_with_resize_and_exit_code(host):
    terminal = Terminal(host, "run", "-it", "--name", "t", "busybox", "sh", rows=30, columns=100)
    try:
        terminal.expect(rb"# ")
        terminal.send(b"echo $((6*7))\r")
        terminal.expect(rb"\r\n42\r\n")
        terminal.send(b"stty size\r")
        terminal.expect(rb"30 100\r\n")
        terminal.resize(40, 120)
        time.sleep(0.5)  # the CLI forwards SIGWINCH as a resize
        terminal.send(b"stty size\r")
        terminal.expect(rb"40 120\r\n")
        terminal.send(b"exit 5\r")
        assert terminal.wait() == 5, terminal.seen
    finally:
        terminal.close()
    assert host.inspect("t")["Config"]["Tty"] is True
    assert "42" in host.docker("logs", "t").stdout


def test_detach_keys_leave_the_container_running(host):
    host.docker("run", "-dit", "--name", "t", "busybox", "sh")
    terminal = Terminal(host, "attach", "t")
    try:
        terminal.send(b"echo attached-$((1+1))\r")
        terminal.expect(rb"attached-2")
        terminal.send(b"\x10\x11")
        terminal.expect(rb"read escape sequence")
        terminal.wait()  # the CLI's own status for a detach
    finally:
        terminal.close()
    assert host.inspect("t")["State"]["Running"]
    status, _ = host.api("POST", "/containers/t/attach?stream=1&stdin=1&detachKeys=ctrl-1")
    assert status == 400


def test_the_daemon_ends_a_session_on_its_detach_keys(host):
    """Clients that leave detaching to the daemon (docker-py, a CLI without a terminal)."""
    host.docker("run", "-di", "--name", "c", "busybox", "cat")
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(host.socket)
        client.sendall(b"POST /containers/c/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x,y HTTP/1.1\r\n"
                       b"Host: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        client.settimeout(20)
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head
        client.sendall(b"echo-me\n")
        echoed = head.split(b"\r\n\r\n", 1)[1]
        while b"echo-me" not in echoed:
            echoed += client.recv(4096)
        assert echoed.startswith(b"\x01\x00\x00\x00"), echoed  # a stdout frame
        client.sendall(b"\x18y")
        rest = b""
        while True:
            chunk = client.recv(4096)
            if not chunk:
                break
            rest += chunk
    assert host.inspect("c")["State"]["Running"]


def test_exec_interactive_and_terminal(host):
    host.docker("run", "-d", "--name", "c", "busybox", "sleep", "600")
    result = docker_piped(host, "exec", "-i", "c", "cat", stdin=b"through exec\n")
    assert (result.returncode, result.stdout) == (0, b"through exec\n"), result.stderr
    result = docker_piped(host, "exec", "c", "sh", "-c", "exit 6")
    assert result.returncode == 6
    terminal = Terminal(host, "exec", "-it", "c", "sh", rows=33, columns=77)
    try:
        terminal.expect(rb"# ")
        terminal.send(b"stty size; tty\r")
        terminal.expect(rb"33 77\r\n/dev/pts/\d+")
        terminal.send(b"exit 3\r")
        assert terminal.wait() == 3
    finally:
        terminal.close()


def test_containers_keep_running_and_logging_across_a_killed_daemon(host):
    loop = "i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.1; done"
    host.docker("run", "-d", "--name", "plain", "busybox", "sh", "-c", loop)
    host.docker("run", "-dt", "--name", "tty", "busybox", "sh", "-c", loop)
    host.docker("run", "-di", "--name", "stdin", "busybox", "sh")
    wait_until(lambda: "tick3" in host.docker("logs", "plain").stdout)
    wait_until(lambda: "tick3" in host.docker("logs", "tty").stdout)
    pids = {name: host.inspect(name)["State"]["Pid"] for name in ("plain", "tty", "stdin")}
    host.kill9()
    time.sleep(2)
    host.start()
    for name, pid in pids.items():
        state = host.inspect(name)["State"]
        assert state["Running"] and state["Pid"] == pid, (name, state)
    before = {name: host.docker("logs", name).stdout.count("tick") for name in ("plain", "tty")}
    time.sleep(1.5)
    for name in ("plain", "tty"):
        assert host.docker("logs", name).stdout.count("tick") > before[name] + 5, name
    host.docker("rm", "-f", "plain", "tty", "stdin")


def test_docker_py_runs_attached_and_attaches(host):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{host.socket}")
    try:
        assert client.containers.run("busybox", ["sh", "-c", "echo from-py; echo e >&2"], remove=True) == b"from-py\n"
        container = client.containers.run("busybox", ["sh", "-c", "sleep 1; echo streamed; sleep 1"], detach=True)
        chunks = b"".join(container.attach(stdout=True, stderr=True, stream=True, logs=True))
        assert chunks == b"streamed\n"
        assert container.wait()["StatusCode"] == 0
        assert container.logs(timestamps=True, tail=1).endswith(b"Z streamed\n")
    finally:
        client.close()


def test_compose_up_attaches_and_logs(host, tmp_path):
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    (tmp_path / "docker-compose.yml").write_text(
        "version: '2'\nservices:\n  hello:\n    image: busybox\n    command: sh -c 'echo composed; sleep 1; echo done'\n")
    env = host.env()
    env["DOCKER_HOST"] = f"unix://{host.socket}"

    def compose(*args):
        return subprocess.run(["docker-compose", "--no-ansi", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)

    try:
        up = compose("up")
        assert up.returncode == 0, up.stderr
        assert "hello_1  | composed" in up.stdout and "hello_1  | done" in up.stdout, up.stdout
        assert "hello_1  | done" in compose("logs").stdout
    finally:
        compose("down")


def test_console_size_sets_the_terminal_size_from_the_start(host):
    status, body = host.api("POST", "/containers/create?name=sized", {
        "Image": "busybox", "Cmd": ["/bin/sh", "-c", "sleep 0.3; stty size"], "Tty": True, "HostConfig": {"ConsoleSize": [12, 34]}})
    assert status == 201, body
    host.docker("start", "sized")
    wait_until(lambda: not host.inspect("sized")["State"]["Running"])
    assert host.docker("logs", "sized").stdout.strip() == "12 34"
    status, _ = host.api("POST", "/containers/create", {
        "Image": "busybox", "Tty": True, "HostConfig": {"ConsoleSize": [1, 2, 3]}})
    assert status == 400


def test_exec_sends_only_the_streams_asked_for(host):
    host.docker("run", "-d", "--name", "c", "busybox", "sleep", "600")
    status, created = host.api("POST", "/containers/c/exec", {
        "Cmd": ["sh", "-c", "echo out; echo err >&2"], "AttachStdout": True, "AttachStderr": False})
    assert status == 201, created
    body = json.dumps({"Detach": False, "Tty": False}).encode()
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(host.socket)
        client.sendall(b"POST /exec/%s/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (created["Id"].encode(), len(body), body))
        client.settimeout(20)
        raw = b""
        while True:
            chunk = client.recv(65536)
            if not chunk:
                break
            raw += chunk
    frames = raw.split(b"\r\n\r\n", 1)[1]
    assert frames == b"\x01\x00\x00\x00\x00\x00\x00\x04out\n", frames


def test_berth_run_attaches_like_docker(host):
    result = subprocess.run([BERTH, "-H", f"unix://{host.socket}", "run", "--rm", "busybox", "sh", "-c",
                             "echo out; echo err >&2; exit 4"], capture_output=True, timeout=60, env=host.env())
    assert (result.returncode, result.stdout, result.stderr) == (4, b"out\n", b"err\n")
    result = subprocess.run([BERTH, "-H", f"unix://{host.socket}", "run", "-i", "--rm", "busybox", "cat"],
                            input=b"piped\n", capture_output=True, timeout=60, env=host.env())
    assert (result.returncode, result.stdout) == (0, b"piped\n"), result.stderr
    assert host.docker("ps", "-aq").stdout.strip() == ""

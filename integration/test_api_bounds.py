"""Bounds on the API server: body caps, uploads streamed to disk, idle timeouts and a
connection limit that never cut legitimate long-lived streams."""
import json
import os
import socket
import subprocess
import tarfile
import time

from api_client import request
from harness import wait_until

IDLE = 2  # the --api-idle-timeout the timeout tests run berthd with (seconds)


def connect(host, timeout=5):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    # EAGAIN: the listen backlog is full for a moment while berthd accepts a burst.
    for _ in range(100):
        try:
            sock.connect(host.socket)
            return sock
        except BlockingIOError:
            time.sleep(0.02)
    sock.connect(host.socket)
    return sock


def read_response(sock):
    """Reads until the head is complete and the Content-Length body (if any) is in;
    returns (status, headers text, body bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, head.decode(), body


def ping_seconds(host):
    """One /_ping on a new connection; returns its round-trip time."""
    start = time.monotonic()
    sock = connect(host, timeout=5)
    try:
        sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n")
        status, _, body = read_response(sock)
    finally:
        sock.close()
    assert (status, body) == (200, b"OK")
    return time.monotonic() - start


def is_closed_by_server(sock):
    """True when the server has closed this connection (EOF or reset)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        sock.setblocking(True)


def test_json_body_over_cap_refused_from_content_length_before_it_is_sent(host):
    sock = connect(host)
    try:
        start = time.monotonic()
        # Only the head: the 413 must come without the daemon waiting for 2 MB that never come.
        sock.sendall(b"POST /containers/create HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2097152\r\n\r\n")
        status, head, body = read_response(sock)
        elapsed = time.monotonic() - start
    finally:
        sock.close()
    assert status == 413, (status, body)
    assert elapsed < 1.0, f"413 took {elapsed:.2f}s"
    assert "1048576" in json.loads(body)["message"] or "1 MiB" in json.loads(body)["message"]
    assert ping_seconds(host) < 0.5


def test_chunked_json_body_refused_once_it_passes_the_cap(host):
    sock = connect(host, timeout=10)
    status = None
    try:
        sock.sendall(b"POST /networks/create HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        sent = 0
        try:
            # Up to 4 MB; the daemon answers and closes once 1 MB has gone past.
            while sent < 4 << 20:
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, body = read_response(sock)
    finally:
        sock.close()
    assert status == 413, (status, body)
    assert ping_seconds(host) < 0.5


def test_json_body_under_cap_still_decoded(host):
    # 900 kB of labels: under the cap, so it reaches the handler and creates the network.
    labels = {f"k{i}": "v" * 80 for i in range(10000)}
    status, body = request(host.socket, "POST", "/networks/create", {"Name": "biglabels", "Labels": labels})
    assert status == 201, body
    assert host.api("DELETE", "/networks/biglabels")[0] == 204


def make_tarball(path, megabytes):
    payload = os.path.join(os.path.dirname(path), "payload.bin")
    with open(payload, "wb") as f:
        for _ in range(megabytes):
            f.write(os.urandom(1 << 20))
    with tarfile.open(path, "w") as tar:
        tar.add(payload, arcname="payload.bin")
    os.remove(payload)


def import_seconds(host, path, repo):
    start = time.monotonic()
    result = subprocess.run(["curl", "-s", "-f", "--unix-socket", host.socket, "-H", "Content-Type: application/x-tar",
                             "--data-binary", f"@{path}",
                             f"http://localhost/images/create?fromSrc=-&repo={repo}"],
                            capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert "sha256:" in result.stdout
    return elapsed


def peak_rss_mb(host):
    with open(f"/proc/{daemon_pid(host)}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def daemon_pid(host):
    # The harness runs berthd under nsenter, which execs it: same pid.
    return host.daemon.pid


def test_tarball_import_streams_to_disk_in_linear_time(host):
    small, large = os.path.join(host.dir, "small.tar"), os.path.join(host.dir, "large.tar")
    make_tarball(small, 16)
    make_tarball(large, 64)
    before = peak_rss_mb(host)
    t16 = import_seconds(host, small, "small")
    t64 = import_seconds(host, large, "large")
    grown = peak_rss_mb(host) - before
    print(f"import 16 MB {t16:.2f}s, 64 MB {t64:.2f}s, peak RSS grew {grown:.0f} MB")
    # Linear: four times the bytes costs about four times the time, with room for noise.
    assert t64 < max(6 * t16, 1.0) and t64 < 15, (t16, t64)
    # Streamed to disk: the daemon never holds the 64 MB body (or a copy of it).
    assert grown < 40, f"peak RSS grew {grown:.0f} MB"
    assert not [n for n in os.listdir(host.root) if n.startswith(("tmp-", "upload-"))], "upload file left behind"


def test_idle_connections_are_closed_and_do_not_block_ping(make_host):
    host = make_host(image=False, extra_args=["--api-idle-timeout", str(IDLE)])
    idle = [connect(host) for _ in range(300)]
    # A request head that never completes is as idle as no request at all.
    half = [connect(host) for _ in range(50)]
    for sock in half:
        sock.sendall(b"POST /containers/create HTTP/1.1\r\nHost: berth\r\n")
    try:
        assert ping_seconds(host) < 0.5
        wait_until(lambda: all(is_closed_by_server(s) for s in idle + half), timeout=IDLE + 4,
                   message="idle connections to be closed")
        assert ping_seconds(host) < 0.5
    finally:
        for sock in idle + half:
            sock.close()


def test_body_that_stalls_is_timed_out(make_host):
    host = make_host(image=False, extra_args=["--api-idle-timeout", str(IDLE)])
    sock = connect(host, timeout=IDLE + 5)
    try:
        sock.sendall(b"POST /networks/create HTTP/1.1\r\nHost: berth\r\nContent-Length: 100\r\n\r\n{\"Na")
        start = time.monotonic()
        data = sock.recv(65536)
        while data and b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        elapsed = time.monotonic() - start
    finally:
        sock.close()
    assert elapsed < IDLE + 3
    assert data.startswith(b"HTTP/1.1 408"), data


def test_connection_limit_holds_and_ping_still_answers(make_host):
    limit = 40
    host = make_host(image=False, extra_args=["--api-max-connections", str(limit), "--api-idle-timeout", "60"])
    flood = []
    try:
        for _ in range(limit * 5):
            flood.append(connect(host))
        time.sleep(0.3)
        # Idle connections make room for new ones (oldest idle first), so /_ping still answers.
        for _ in range(5):
            assert ping_seconds(host) < 0.5
        open_ = [s for s in flood if not is_closed_by_server(s)]
        assert len(open_) <= limit, f"{len(open_)} connections held with a limit of {limit}"
        fds = len(os.listdir(f"/proc/{daemon_pid(host)}/fd"))
        assert fds < 200, f"berthd holds {fds} descriptors"
    finally:
        for sock in flood:
            sock.close()


def test_streams_survive_the_idle_timeout(make_host):
    host = make_host(extra_args=["--api-idle-timeout", str(IDLE)])
    host.berth("run", "-d", "--name", "late", "busybox", "sh", "-c", f"sleep {IDLE * 2 + 1}; echo late-line; sleep 600")
    # logs --follow: a chunked response with nothing to say for longer than the idle timeout.
    logs = subprocess.Popen(["curl", "-s", "-N",
                             "--unix-socket", host.socket,
                             "http://localhost/containers/late/logs?follow=1&stdout=1&stderr=1"],
                            stdout=subprocess.PIPE)
    try:
        # A hijacked exec stream silent for longer than the timeout.
        exec_result = host.berth("exec", "late", "sh", "-c", f"sleep {IDLE * 2}; echo exec-done", timeout=30)
        assert "exec-done" in exec_result.stdout
        # A long wait on a container that exits after the timeout.
        host.berth("run", "-d", "--name", "slow", "busybox", "sleep", str(IDLE * 2))
        status, body = host.api("POST", "/containers/slow/wait")
        assert status == 200 and body["StatusCode"] == 0, body
        line = b""
        deadline = time.monotonic() + 10
        while b"late-line" not in line and time.monotonic() < deadline:
            piece = logs.stdout.read1(4096)
            if not piece:
                break
            line += piece
        assert b"late-line" in line, line
        assert logs.poll() is None, "the follow stream ended"
    finally:
        logs.kill()
        logs.wait()

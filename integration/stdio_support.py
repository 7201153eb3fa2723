"""Driving the real docker CLI attached: piped stdin, and a real pty for `-t`."""
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time


def docker_argv(host, *args):
    return ["docker", "-H", f"unix://{host.socket}", *args]


def docker_env(host):
    env = host.env()
    env["DOCKER_CONFIG"] = os.path.join(host.dir, "docker-config")
    return env


def docker_piped(host, *args, stdin=b"", timeout=60):
    """The docker CLI with bytes on its stdin; returns the CompletedProcess (bytes)."""
    return subprocess.run(docker_argv(host, *args), input=stdin, capture_output=True, timeout=timeout,
                          env=docker_env(host))


class Terminal:
    """The docker CLI on a pty of its own (its controlling terminal), as a user runs it."""

    def __init__(self, host, *args, rows=24, columns=80):
        self.master, slave = os.openpty()
        self.resize(rows, columns)

        def controlling_terminal():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(docker_argv(host, *args), stdin=slave, stdout=slave, stderr=slave,
                                        env=docker_env(host), start_new_session=True,
                                        preexec_fn=controlling_terminal)
        os.close(slave)
        self.seen = b""

    def resize(self, rows, columns):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def send(self, data):
        os.write(self.master, data)

    def _read(self, timeout):
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the CLI closed the terminal
            return None
        if not chunk:
            return None
        self.seen += chunk
        return True

    def expect(self, pattern, timeout=20):
        """Waits for `pattern` (bytes regex) in the output after what was matched before."""
        deadline = time.time() + timeout
        while True:
            match = re.search(pattern, self.seen)
            if match:
                self.seen = self.seen[match.end():]
                return match
            remaining = deadline - time.time()
            if remaining <= 0 or self._read(remaining) is None:
                raise AssertionError(f"{pattern!r} not seen; output: {self.seen[-800:]!r}")

    def wait(self, timeout=20):
        """The CLI's exit status, reading its output meanwhile (a full pty would block it)."""
        deadline = time.time() + timeout
        while self.process.poll() is None and time.time() < deadline:
            if self._read(0.1) is None:
                break
        return self.process.wait(timeout=max(deadline - time.time(), 1))

    def close(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)

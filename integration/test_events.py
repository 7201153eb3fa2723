"""Issue 14: `GET /events` as Docker speaks it, read by the real docker CLI, berth's CLI,
docker-py and docker-compose 1.29 (which follows its containers through events)."""
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
import urllib.parse

import pytest
from harness import run, wait_until


def docker_env(host):
    env = host.env()
    env["DOCKER_CONFIG"] = os.path.join(host.dir, "docker-config")
    return env


def window(host, since, until, *args):
    """`docker events --since --until` as JSON messages (the command ends at `until`)."""
    out = host.docker("events", "--since", f"{since:.6f}", "--until", f"{until:.6f}", "--format", "{{json .}}", *args,
                      timeout=30).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def summary(event):
    """What a sequence is compared by: type, action and the actor's name attribute."""
    return (event["Type"], event["Action"], event["Actor"]["Attributes"].get("name"))


class LiveEvents:
    """A `docker events` process left running; its lines are read as they come."""

    def __init__(self, host, *args):
        self.process = subprocess.Popen(
            ["docker", "-H", f"unix://{host.socket}", "events", "--format", "{{json .}}", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=docker_env(host), start_new_session=True)
        host.helpers.append(self.process)  # killed at cleanup whatever happens
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            if line.strip():
                self.lines.put(json.loads(line))

    def next(self, timeout=10):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no event arrived in time") from None

    def quiet(self, seconds=0.5):
        """True when nothing arrives for `seconds`."""
        try:
            event = self.lines.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected event {event}")

    def stop(self):
        self.process.kill()
        self.process.wait(timeout=10)


def wait_subscribed(host, live, probe):
    """Creates networks named `probe-N` until the live reader shows one: from then on it
    sees whatever happens. Returns the first probe's event, once the later probes' (slow to
    show under load) are read too."""
    for attempt in range(40):
        host.docker("network", "create", f"{probe}-{attempt}")
        try:
            first = live.lines.get(timeout=0.5)
        except queue.Empty:
            continue
        for _ in range(attempt):
            try:
                live.lines.get(timeout=1)
            except queue.Empty:
                break
        return first
    raise AssertionError("the live docker events never showed a probe")


def test_a_container_and_network_history_reads_as_docker_writes_it(host):
    t0 = time.time()
    # sleep as PID 1 ignores SIGTERM: stop sends 15, waits a second, then 9.
    host.docker("run", "-d", "--name", "web", "--label", "tier=front", "busybox", "sleep", "600")
    cid = host.inspect("web")["Id"]
    host.docker("network", "create", "front")
    host.docker("network", "connect", "front", "web")
    host.docker("network", "disconnect", "front", "web")
    host.docker("stop", "-t", "1", "web")
    host.docker("rm", "web")
    host.docker("network", "rm", "front")
    t1 = time.time()

    events = window(host, t0, t1)
    assert [summary(e) for e in events] == [
        ("container", "create", "web"),
        ("network", "connect", "bridge"),
        ("container", "start", "web"),
        ("network", "create", "front"),
        ("network", "connect", "front"),
        ("network", "disconnect", "front"),
        ("container", "kill", "web"),
        ("container", "kill", "web"),
        ("network", "disconnect", "bridge"),
        ("container", "die", "web"),
        ("container", "stop", "web"),
        ("container", "destroy", "web"),
        ("network", "destroy", "front"),
    ], events
    for event in events:
        assert event["scope"] == "local"
        assert event["time"] == event["timeNano"] // 10**9 and t0 <= event["timeNano"] / 1e9 <= t1
        if event["Type"] == "container":
            attributes = event["Actor"]["Attributes"]
            assert event["Actor"]["ID"] == cid and event["id"] == cid
            assert event["status"] == event["Action"] and event["from"] == "busybox"
            assert attributes["image"] == "busybox" and attributes["tier"] == "front"
        else:
            assert event["Actor"]["Attributes"].get("container") == cid or event["Action"] in ("create", "destroy")
            assert "status" not in event
    assert [e["Actor"]["Attributes"]["signal"] for e in events if e["Action"] == "kill"] == ["15", "9"]
    die = next(e for e in events if e["Action"] == "die")
    assert die["Actor"]["Attributes"]["exitCode"] == "137"
    assert int(die["Actor"]["Attributes"]["execDuration"]) >= 0
    connect = events[1]["Actor"]["Attributes"]
    assert connect == {"container": cid, "name": "bridge", "type": "bridge"}

    # Filters, as docker sends them.
    assert [summary(e)[:2] for e in window(host, t0, t1, "--filter", "type=network", "--filter", "event=connect")] == \
        [("network", "connect"), ("network", "connect")]
    assert {e["Actor"]["ID"] for e in window(host, t0, t1, "--filter", "container=web")} == {cid}
    assert len(window(host, t0, t1, "--filter", f"container={cid[:12]}")) == 7
    assert [e["Action"] for e in window(host, t0, t1, "--filter", "network=front")] == \
        ["create", "connect", "disconnect", "destroy"]
    assert len(window(host, t0, t1, "--filter", "label=tier=front", "--filter", "event=die")) == 1
    assert window(host, t0, t1, "--filter", "label=tier=back") == []
    assert len(window(host, t0, t1, "--filter", "image=busybox")) == 7
    assert window(host, t0, t1, "--filter", "type=daemon") == []
    assert len(window(host, t0, t1, "--filter", "scope=local")) == len(events)
    refused = host.docker("events", "--since", f"{t0:.6f}", "--until", f"{t1:.6f}", "--filter", "colour=red",
                          check=False)
    assert refused.returncode != 0 and "invalid filter 'colour'" in refused.stderr

    # docker's default line: <time> <type> <action> <id> (<sorted attributes>); berth's is the same.
    lines = host.docker("events", "--since", f"{t0:.6f}", "--until", f"{t1:.6f}", timeout=30).stdout.splitlines()
    assert re.fullmatch(rf"\S+ container create {cid} \(image=busybox, name=web, tier=front\)", lines[0]), lines[0]
    berth_lines = host.berth("events", "--since", f"{t0:.6f}", "--until", f"{t1:.6f}", timeout=30).stdout.splitlines()
    assert berth_lines == lines
    berth_json = host.berth("events", "--since", f"{t0:.6f}", "--until", f"{t1:.6f}", "--filter", "type=network",
                            "--format", "{{json .}}", timeout=30).stdout.splitlines()
    assert [json.loads(line) for line in berth_json] == [e for e in events if e["Type"] == "network"]


def test_the_api_refuses_bad_times_and_orders(host):
    for query, word in [("since=10m", "since"), ("until=yesterday", "until"), ("since=20&until=10", "cannot be after")]:
        status, body = host.api("GET", f"/events?{query}")
        assert status == 400 and word in body["message"], (query, body)
    status, body = host.api("GET", "/events?until=1&filters=" + urllib.parse.quote(json.dumps({"type": ["box"]})))
    assert status == 400 and "type=box" in body["message"]


def test_a_live_reader_sees_connects_as_they_happen(host):
    live = LiveEvents(host, "--filter", "type=network")
    try:
        wait_subscribed(host, live, "probe")
        host.docker("run", "-d", "--name", "c1", "busybox", "sleep", "600")
        assert summary(live.next()) == ("network", "connect", "bridge")
        host.docker("network", "create", "n1")
        assert summary(live.next()) == ("network", "create", "n1")
        host.docker("network", "connect", "n1", "c1")
        event = live.next()
        assert summary(event) == ("network", "connect", "n1")
        assert event["Actor"]["Attributes"]["container"] == host.inspect("c1")["Id"]
        host.docker("network", "disconnect", "n1", "c1")
        assert summary(live.next()) == ("network", "disconnect", "n1")
        host.docker("exec", "c1", "true")  # container events only: the filter keeps them out
        assert live.quiet()
    finally:
        live.stop()


def test_a_reconnecting_client_gets_what_it_missed(host):
    live = LiveEvents(host)
    seen = wait_subscribed(host, live, "probe")
    live.stop()  # the client goes away
    host.docker("run", "-d", "--name", "missed", "busybox", "sleep", "600")
    host.docker("rm", "-f", "missed")
    # Back with --since the last event it saw: that one again, then what happened meanwhile, then live.
    again = LiveEvents(host, "--since", f"{seen['timeNano'] / 1e9 - 0.000001:.6f}")
    try:
        replay = [again.next()]
        while summary(replay[-1]) != ("container", "destroy", "missed"):
            replay.append(again.next())
        assert replay[0] == seen
        # Probes the first reader had not shown yet may come before what it missed.
        missed = [summary(e) for e in replay[1:] if not e["Actor"]["Attributes"]["name"].startswith("probe-")]
        assert missed == [
            ("container", "create", "missed"), ("network", "connect", "bridge"), ("container", "start", "missed"),
            ("container", "kill", "missed"), ("network", "disconnect", "bridge"), ("container", "die", "missed"),
            ("container", "destroy", "missed"),
        ]
        host.docker("network", "create", "after")
        assert summary(again.next()) == ("network", "create", "after")
    finally:
        again.stop()


def test_images_and_execs_have_their_events(host):
    t0 = time.time()
    host.docker("run", "-d", "--name", "c1", "busybox", "sleep", "600")
    assert host.docker("exec", "c1", "echo", "hi").stdout.strip() == "hi"
    t1 = time.time()
    actions = [e["Action"] for e in window(host, t0, t1, "--filter", "event=exec_create", "--filter", "event=exec_start",
                                           "--filter", "event=exec_die")]
    assert actions == ["exec_create: echo hi", "exec_start: echo hi", "exec_die"], actions

    # The host fixture imported busybox before the test: tag, then import, named as Docker does.
    imported = window(host, 0, t0, "--filter", "type=image")
    assert [(e["Action"], e["Actor"]["Attributes"]["name"]) for e in imported] == \
        [("tag", "busybox:latest"), ("import", imported[1]["Actor"]["ID"])]
    image_id = imported[1]["Actor"]["ID"]
    assert image_id.startswith("sha256:") and imported[0]["status"] == "tag" and imported[0]["id"] == image_id
    host.docker("rm", "-f", "c1")
    t2 = time.time()
    host.docker("rmi", "busybox")
    removal = window(host, t2, time.time(), "--filter", "type=image")
    assert [(e["Action"], e["Actor"]["Attributes"]["name"]) for e in removal][-2:] == \
        [("untag", "busybox:latest"), ("delete", image_id)]


def test_docker_py_follows_with_compose_label_filters(host):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=f"unix://{host.socket}")
    labels = ["com.docker.compose.project=p", "com.docker.compose.oneoff=False"]
    since = int(time.time()) - 1
    host.docker("run", "-d", "--name", "p_web_1", "--label", "com.docker.compose.project=p",
                "--label", "com.docker.compose.oneoff=False", "--label", "com.docker.compose.service=web",
                "busybox", "sleep", "600")
    host.docker("run", "-d", "--name", "stranger", "--label", "com.docker.compose.project=q", "busybox", "sleep", "600")
    host.docker("stop", "-t", "0", "p_web_1")
    stream = client.api.events(since=since, until=int(time.time()) + 1, filters={"label": labels}, decode=True)
    events = list(stream)
    assert [(e["Type"], e["status"], e["Actor"]["Attributes"]["name"]) for e in events] == [
        ("container", "create", "p_web_1"), ("container", "start", "p_web_1"), ("container", "kill", "p_web_1"),
        ("container", "die", "p_web_1"), ("container", "stop", "p_web_1"),
    ], events
    assert all(e["id"] == e["Actor"]["ID"] for e in events)
    client.close()


COMPOSE_FILE = """version: "2.4"
services:
  web:
    image: busybox
    command: sleep 600
"""

# compose 1.29's own event follower (Project.events: label filters project=ev and
# oneoff=False), which `up` and `logs -f` read to follow their containers; it runs under
# the system python, where Debian installs compose.
COMPOSE_FOLLOWER = """
import json, sys
from compose.cli.command import get_project
project = get_project(sys.argv[1], project_name="ev")
for event in project.events():
    container = event["container"]
    print(json.dumps({"action": event["action"], "service": event["service"], "id": event["id"],
                      "name": container.name if container else None}), flush=True)
"""


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (Debian's 1.29) is not installed")
def test_compose_follows_its_own_containers_through_events(host):
    project_dir = os.path.join(host.dir, "project-ev")
    os.makedirs(project_dir)
    with open(os.path.join(project_dir, "docker-compose.yml"), "w") as handle:
        handle.write(COMPOSE_FILE)
    env = host.env()
    env["DOCKER_HOST"] = f"unix://{host.socket}"
    run(["docker-compose", "--no-ansi", "-p", "ev", "up", "-d"], env=env, cwd=project_dir, timeout=120)
    cid = host.inspect("ev_web_1")["Id"]
    follower = subprocess.Popen(["/usr/bin/python3", "-c", COMPOSE_FOLLOWER, project_dir], cwd=project_dir, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    host.helpers.append(follower)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(json.loads(line)) for line in follower.stdout], daemon=True).start()
    try:
        # A harmless signal until compose shows its kill event: from then on it is listening.
        for _ in range(40):
            host.docker("kill", "-s", "28", "ev_web_1")  # SIGWINCH: ignored
            try:
                probe = lines.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        else:
            raise AssertionError("compose's event follower never showed the probe")
        assert probe == {"action": "kill", "service": "web", "id": cid, "name": "ev_web_1"}
        while True:  # later probes that were under way
            try:
                assert lines.get(timeout=0.5)["action"] == "kill"
            except queue.Empty:
                break
        # Not compose's: another project's container and a plain one.
        host.docker("run", "-d", "--name", "stranger", "--label", "com.docker.compose.project=other", "busybox",
                    "sleep", "600")
        host.docker("run", "-d", "--name", "plain", "busybox", "sleep", "600")
        run(["docker-compose", "--no-ansi", "-p", "ev", "stop", "-t", "0"], env=env, cwd=project_dir, timeout=120)
        run(["docker-compose", "--no-ansi", "-p", "ev", "start"], env=env, cwd=project_dir, timeout=120)
        seen = [lines.get(timeout=10) for _ in range(4)]
        assert [(e["action"], e["service"], e["id"]) for e in seen] == \
            [("kill", "web", cid), ("die", "web", cid), ("stop", "web", cid), ("start", "web", cid)], seen
        assert seen[-1]["name"] == "ev_web_1"  # compose found the container the event names
        with pytest.raises(queue.Empty):
            lines.get(timeout=1)
    finally:
        follower.kill()
        follower.wait(timeout=10)
        run(["docker-compose", "--no-ansi", "-p", "ev", "down", "-t", "0"], env=env, cwd=project_dir, timeout=120,
            check=False)

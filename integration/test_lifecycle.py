"""Issue 14: restart policies, pause/unpause, top, rename and image tags with the real docker CLI."""
import json
import os
import shutil
import signal
import tarfile
import time

import pytest

from harness import busybox_image, run, wait_until


def state(host, name):
    return host.inspect(name)["State"]


def restart_count(host, name):
    return host.inspect(name)["RestartCount"]


def kill_from_outside(pid):
    os.kill(pid, signal.SIGKILL)


def test_always_comes_back_after_its_process_is_killed(host):
    host.docker("run", "-d", "--name", "svc", "--restart", "always", "busybox", "sleep", "600")
    first = state(host, "svc")["Pid"]
    kill_from_outside(first)
    wait_until(lambda: state(host, "svc")["Running"] and state(host, "svc")["Pid"] not in (0, first),
               message="svc to be restarted")
    assert restart_count(host, "svc") == 1
    second = state(host, "svc")["Pid"]
    kill_from_outside(second)
    wait_until(lambda: restart_count(host, "svc") == 2 and state(host, "svc")["Pid"] not in (0, second),
               message="svc to be restarted again")
    assert json.loads(host.docker("inspect", "--format", "{{json .HostConfig.RestartPolicy}}", "svc").stdout)["Name"] == "always"
    # The user's stop is final: nothing brings it back while berthd runs.
    host.docker("stop", "-t", "1", "svc")
    time.sleep(1)
    assert state(host, "svc")["Status"] == "exited"
    # A user's start counts from zero again.
    host.docker("start", "svc")
    assert restart_count(host, "svc") == 0


def test_on_failure_stops_after_its_retries(host):
    host.docker("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3")
    wait_until(lambda: restart_count(host, "flaky") == 2 and state(host, "flaky")["Status"] == "exited",
               timeout=15, message="two retries")
    time.sleep(1)
    final = state(host, "flaky")
    assert final["Status"] == "exited" and final["ExitCode"] == 3 and not final["Restarting"]
    assert restart_count(host, "flaky") == 2


def test_a_quickly_exiting_always_container_shows_restarting_and_stop_ends_it(host):
    host.docker("run", "-d", "--name", "loop", "--restart", "always", "busybox", "true")
    wait_until(lambda: restart_count(host, "loop") >= 4, timeout=15, message="the backoff to grow")
    # Listed without -a: Docker counts a restarting container as running.
    wait_until(lambda: "Restarting (0)" in host.docker("ps", "--filter", "name=loop").stdout,
               timeout=15, message="ps to show it restarting")
    host.docker("stop", "loop")
    count = restart_count(host, "loop")
    time.sleep(2)
    assert state(host, "loop")["Status"] == "exited"
    assert restart_count(host, "loop") == count


def test_bad_policies_are_refused_with_dockers_messages(host):
    status, body = host.api("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}})
    assert status == 400 and "unknown policy 'sometimes'" in body["message"]
    status, body = host.api("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}})
    assert status == 400 and "can only be used with 'on-failure'" in body["message"]
    status, body = host.api("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}})
    assert status == 400 and "cannot be negative" in body["message"]
    status, body = host.api("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": True, "RestartPolicy": {"Name": "always"}}})
    assert status == 400 and "AutoRemove" in body["message"]
    status, body = host.api("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"PidMode": "host"}})
    assert status == 400 and "PidMode" in body["message"]
    assert host.docker("ps", "-aq").stdout.strip() == ""
    # No policy given reads as Docker's "no".
    status, body = host.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]})
    assert status == 201
    assert host.inspect(body["Id"])["HostConfig"]["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}


def test_a_container_that_exits_while_berthd_is_down_is_restarted_at_start(host):
    host.docker("run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "600")
    host.docker("run", "-d", "--name", "stopped-always", "--restart", "always", "busybox", "sleep", "600")
    host.docker("run", "-d", "--name", "unless", "--restart", "unless-stopped", "busybox", "sleep", "600")
    host.docker("stop", "-t", "1", "stopped-always")
    host.docker("stop", "-t", "1", "unless")
    pid = state(host, "always")["Pid"]
    host.kill9()
    kill_from_outside(pid)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}/stat") or open(f"/proc/{pid}/stat").read().split()[2] == "Z",
               message="the container's process to die")
    host.start()
    wait_until(lambda: state(host, "always")["Running"] and state(host, "always")["Pid"] != pid,
               message="always to be restarted")
    # As Docker: `always` comes back at a daemon start even after a user's stop; `unless-stopped` does not.
    wait_until(lambda: state(host, "stopped-always")["Running"], message="stopped-always to come back")
    assert state(host, "unless")["Status"] == "exited"
    ip = host.ip_of("always")
    host.sh(f"ping -c 1 -W 2 {ip}")  # and its network is back


def counter(pid):
    with open(f"/proc/{pid}/root/tmp/counter") as f:
        return int(f.read().strip() or 0)


def test_pause_freezes_and_unpause_thaws(host):
    host.docker("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.05; done")
    pid = state(host, "ticker")["Pid"]
    wait_until(lambda: os.path.exists(f"/proc/{pid}/root/tmp/counter") and counter(pid) > 2, message="ticking")
    host.docker("pause", "ticker")
    frozen = state(host, "ticker")
    assert frozen["Status"] == "paused" and frozen["Paused"] and frozen["Running"]
    assert "ticker" in host.docker("ps", "--filter", "status=paused", "--format", "{{.Names}}").stdout
    assert "(Paused)" in host.docker("ps", "--filter", "name=ticker").stdout
    info = json.loads(host.docker("info", "--format", "{{json .}}").stdout)
    assert info["ContainersPaused"] == 1 and info["ContainersRunning"] == 0
    before = counter(pid)
    time.sleep(0.5)
    assert counter(pid) == before
    result = host.docker("exec", "ticker", "true", check=False)
    assert result.returncode != 0 and "paused" in result.stderr
    assert host.docker("pause", "ticker", check=False).returncode != 0  # already paused
    result = host.docker("start", "ticker", check=False)
    assert result.returncode != 0 and "try unpause" in result.stderr
    host.docker("unpause", "ticker")
    wait_until(lambda: counter(pid) > before, message="ticking again")
    assert state(host, "ticker")["Status"] == "running"
    assert host.docker("unpause", "ticker", check=False).returncode != 0  # not paused
    # A paused container can be stopped and removed: it is thawed to take the signal.
    host.docker("pause", "ticker")
    host.docker("stop", "-t", "1", "ticker")
    assert state(host, "ticker")["Status"] == "exited"
    result = host.docker("pause", "ticker", check=False)
    assert result.returncode != 0 and "is not running" in result.stderr
    host.docker("start", "ticker")
    host.docker("pause", "ticker")
    host.docker("rm", "-f", "ticker")
    assert host.docker("ps", "-aq").stdout.strip() == ""


def test_top_lists_the_containers_processes(host):
    host.docker("run", "-d", "--name", "busy", "busybox", "sh", "-c", "sleep 601 & sleep 602")
    pid = state(host, "busy")["Pid"]
    wait_until(lambda: "sleep 602" in host.docker("top", "busy").stdout, message="both sleeps to run")
    out = host.docker("top", "busy").stdout
    assert "PID" in out.splitlines()[0] and "sleep 601" in out and str(pid) in out
    # Only the container's own processes: berthd and the test are not in it.
    assert "berthd" not in out and "pytest" not in out
    status, body = host.api("GET", "/containers/busy/top?ps_args=-o%20pid,comm")
    assert status == 200 and body["Titles"] == ["PID", "COMMAND"]
    # sh runs the first sleep in the background and becomes the second (its last command).
    assert sorted(p[1] for p in body["Processes"]) == ["sleep", "sleep"]
    host.docker("stop", "-t", "1", "busy")
    result = host.docker("top", "busy", check=False)
    assert result.returncode != 0 and "is not running" in result.stderr


def test_rename_moves_the_dns_name(host):
    host.docker("network", "create", "app")
    host.docker("run", "-d", "--name", "old", "--network", "app", "busybox", "sleep", "600")
    host.docker("run", "-d", "--name", "client", "--network", "app", "busybox", "sleep", "600")
    host.docker("exec", "client", "ping", "-c", "1", "-W", "2", "old")
    host.docker("rename", "old", "new")
    assert host.inspect("new")["Name"] == "/new"
    host.docker("exec", "client", "ping", "-c", "1", "-W", "2", "new")
    assert host.docker("exec", "client", "ping", "-c", "1", "-W", "1", "old", check=False).returncode != 0
    # A taken name, an empty one and a bad one are refused.
    result = host.docker("rename", "new", "client", check=False)
    assert result.returncode != 0 and "already in use" in result.stderr
    status, _ = host.api("POST", "/containers/new/rename?name=")
    assert status == 400
    status, _ = host.api("POST", "/containers/new/rename?name=-bad")
    assert status == 400
    # The name survives a daemon restart.
    host.restart()
    assert host.inspect("new")["Name"] == "/new"
    host.docker("exec", "client", "ping", "-c", "1", "-W", "2", "new")
    host.docker("rm", "-f", "new", "client")
    host.docker("network", "rm", "app")


def distinct_image(host):
    """The busybox tarball with one more file: an image of its own, not busybox's by another tag."""
    path = os.path.join(host.dir, "distinct.tar")
    shutil.copy(busybox_image(), path)
    marker = os.path.join(host.dir, "marker")
    with open(marker, "w") as handle:
        handle.write("distinct\n")
    with tarfile.open(path, "a") as archive:
        archive.add(marker, arcname="marker")
    return path


def test_a_link_follows_its_renamed_target(host):
    host.docker("run", "-d", "--name", "db", "busybox", "sleep", "600")
    host.docker("run", "-d", "--name", "web", "--link", "db:database", "busybox", "sleep", "600")
    host.docker("rename", "db", "store")
    # The link is the container's, not its old name's: it survives a restart of the linker.
    host.docker("restart", "-t", "1", "web")
    host.docker("exec", "web", "ping", "-c", "1", "-W", "2", "database")
    links = host.inspect("web")["HostConfig"]["Links"]
    assert len(links) == 1 and links[0].lstrip("/").startswith("store:") and links[0].endswith("database")


def test_import_with_a_tag_tag_and_untag(host):
    host.docker("import", distinct_image(host), "mine:v1")
    images = host.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert "mine:v1" in images
    host.docker("tag", "mine:v1", "other:v2")
    image_id = host.docker("inspect", "--format", "{{.Id}}", "mine:v1").stdout.strip()
    assert host.docker("inspect", "--format", "{{.Id}}", "other:v2").stdout.strip() == image_id
    # One tag of several: only untagged.
    out = host.docker("rmi", "other:v2").stdout
    assert "Untagged: other:v2" in out and "Deleted" not in out
    assert host.docker("inspect", "--format", "{{.Id}}", "mine:v1").stdout.strip() == image_id
    # The last tag of an image a container uses: refused, then with -f untagged, the image kept.
    host.docker("run", "-d", "--name", "user", "mine:v1", "sleep", "600")
    result = host.docker("rmi", "mine:v1", check=False)
    assert result.returncode != 0 and "must force" in result.stderr
    out = host.docker("rmi", "-f", "mine:v1").stdout
    assert "Untagged: mine:v1" in out and "Deleted" not in out
    assert state(host, "user")["Running"]
    host.docker("rm", "-f", "user")
    out = host.docker("rmi", image_id).stdout
    assert "Deleted" in out


def compose(host, project_dir, *args):
    env = host.env()
    env["DOCKER_HOST"] = f"unix://{host.socket}"
    return run(["docker-compose", "--no-ansi", "-p", "life", *args], timeout=120, env=env, cwd=project_dir)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (Debian's 1.29) is not installed")
def test_compose_recreates_a_changed_service_through_rename(host):
    project_dir = os.path.join(host.dir, "life")
    os.makedirs(project_dir)
    path = os.path.join(project_dir, "docker-compose.yml")
    service = "services:\n  web:\n    image: busybox\n    command: sleep {}\n    restart: unless-stopped\n"
    with open(path, "w") as handle:
        handle.write("version: '3'\n" + service.format(600))
    compose(host, project_dir, "up", "-d")
    first = host.inspect("life_web_1")
    assert first["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    # A changed command: compose stops the old container, renames it to <short id>_name,
    # creates the new one under the name and removes the old.
    with open(path, "w") as handle:
        handle.write("version: '3'\n" + service.format(601))
    compose(host, project_dir, "up", "-d")
    second = host.inspect("life_web_1")
    assert second["Id"] != first["Id"] and second["State"]["Running"]
    assert second["Config"]["Cmd"] == ["sleep", "601"]
    assert host.docker("ps", "-aq").stdout.split() == [second["Id"][:12]]
    # Unchanged: left alone.
    compose(host, project_dir, "up", "-d")
    assert host.inspect("life_web_1")["Id"] == second["Id"]
    compose(host, project_dir, "pause")
    assert host.inspect("life_web_1")["State"]["Status"] == "paused"
    compose(host, project_dir, "unpause")
    assert "sleep 601" in compose(host, project_dir, "top").stdout
    compose(host, project_dir, "down", "-t", "1")
    assert host.docker("ps", "-aq").stdout.strip() == ""


def test_the_python_sdk_drives_the_lifecycle(host):
    docker_sdk = pytest.importorskip("docker")
    client = docker_sdk.DockerClient(base_url=f"unix://{host.socket}")
    try:
        container = client.containers.run("busybox", ["sleep", "600"], detach=True, name="sdk",
                                          restart_policy={"Name": "on-failure", "MaximumRetryCount": 1})
        container.pause()
        container.reload()
        assert container.status == "paused"
        container.unpause()
        container.reload()
        assert container.status == "running"
        top = container.top(ps_args="-o pid,comm")
        assert top["Titles"] == ["PID", "COMMAND"] and [p[1] for p in top["Processes"]] == ["sleep"]
        container.rename("sdk2")
        container.reload()
        assert container.name == "sdk2"
        image = client.images.get("busybox")
        assert image.tag("sdkrepo", "t1")
        assert "sdkrepo:t1" in client.images.get("busybox").tags
        client.images.remove("sdkrepo:t1")
        assert "sdkrepo:t1" not in client.images.get("busybox").tags
        with pytest.raises(docker_sdk.errors.APIError) as refused:
            client.containers.create("busybox", ["true"], restart_policy={"Name": "always", "MaximumRetryCount": 2})
        assert refused.value.status_code == 400
        container.remove(force=True)
    finally:
        client.close()
